"""One bot process against several on one PostgreSQL and one Redis: the same load, one run.

For each count in `--processes` (default 1,2): a fresh PostgreSQL database (`db upgrade`), that
many real bot processes (`python -m bot run`, the demo model on the CPU, Slack HTTP mode, Redis
for the shared rate limits and conversation turns, rate limits off), and `bench/load.py`'s
closed loop: `--channels` conversations each mention the bot and send the next mention once
the answer arrived, for `--seconds`. Each mention goes to the next process in turn, as a load
balancer would send it. Prints one table with a column per process count: mentions, answered,
lost, duplicates, busy answers, apologies, p50/p95 time to the answer, answers per second and
the processes' memory. Needs PostgreSQL (GPT2BOT_TEST_POSTGRES_URL, default
postgresql+asyncpg://postgres@127.0.0.1:5432/test) and Redis (GPT2BOT_TEST_REDIS_URL, default
redis://127.0.0.1:6379/0; its keys go under a prefix of their own and are deleted). Run by hand:

    python bench/scale.py                                  # 1 and 2 processes, 40 channels, 60 s each
    python bench/scale.py --processes 1,2,3 --channels 80 --seconds 120
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import sys
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fakes and the test databases live with the tests
sys.path.insert(0, str(ROOT / "bench"))

from load import CountingSlackApi, Tally, closed_loop, rss_mb, summary  # noqa: E402

from storage.database import create_engine, upgrade  # noqa: E402
from tests.conftest import empty_database, redis_prefix  # noqa: E402
from tests.fakes.process import BotProcess, write_config  # noqa: E402
from tests.fakes.slack_requests import SentRequest, SlackSender  # noqa: E402
from tests.fakes.slack_rig import BOT_TOKEN, SIGNING_SECRET  # noqa: E402
from tests.process import bot_env, free_port  # noqa: E402

__all__ = ["main"]


@dataclass
class RoundRobin(SlackSender):
    """Sends each request to the next of `urls`, as a load balancer in front of the processes would."""

    urls: list[str] = field(default_factory=list)
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    async def raw(self, body: bytes, content_type: str, headers: Mapping[str, str]) -> SentRequest:
        self.url = self.urls[next(self._turn) % len(self.urls)]
        return await super().raw(body, content_type, headers)


async def measure(processes: int, args: argparse.Namespace) -> dict[str, float]:
    """The closed loop against `processes` bot processes on a fresh database and Redis prefix."""
    tally = Tally()
    api = CountingSlackApi()
    api.tally = tally
    with tempfile.TemporaryDirectory(prefix="gpt2bot-scale-") as tmp:
        database = empty_database("postgres", Path(tmp))
        async with database as url, redis_prefix() as redis, api, AsyncExitStack() as stack:
            engine = create_engine(url)
            await upgrade(engine)
            await engine.dispose()
            api.add_user("U1", "Alice")
            ports = [free_port() for _ in range(processes)]
            bots = []
            for n, port in enumerate(ports):
                config = {
                    "model": {"name": "demo", "device": "cpu"},
                    "generation": {"max_new_tokens": args.max_new_tokens},
                    "storage": {"url": url},
                    "redis": {"url": redis.url, "key_prefix": redis.prefix},
                    "ratelimit": {"user_per_minute": 0, "channel_per_minute": 0},
                    "slack": {"host": "127.0.0.1", "port": port, "api_base_url": api.base_url},
                }
                env = bot_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET)
                bot = BotProcess(write_config(Path(tmp) / f"bot{n}.toml", config), env, Path(tmp) / f"bot{n}.log")
                bots.append(await stack.enter_async_context(bot))
            await asyncio.gather(*(b.wait_for_port(p, within_s=180) for b, p in zip(bots, ports, strict=True)))
            await asyncio.sleep(2)
            sender = RoundRobin("", SIGNING_SECRET, urls=[f"http://127.0.0.1:{p}/slack/events" for p in ports])
            seconds = await closed_loop(sender, api, tally, args)
            memory = sum(rss_mb(b.pid) for b in bots)
            await sender.close()
            for bot in bots:
                bot.send(signal.SIGTERM)
            statuses = [await bot.wait(within_s=120) for bot in bots]
    results = summary(tally)
    return {
        **results,
        "answers per s": results["answered"] / seconds,
        "RSS of all processes MB": memory,
        "exit statuses (0 = clean)": max(statuses),
    }


async def run(args: argparse.Namespace) -> dict[int, dict[str, float]]:
    return {count: await measure(count, args) for count in args.processes}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", default="1,2", help="process counts to compare, e.g. 1,2,3")
    parser.add_argument("--channels", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=60.0, help="keep sending for this long, per count")
    parser.add_argument("--answer-within-s", type=float, default=180.0, help="inference.timeout_s + margin")
    parser.add_argument("--max-new-tokens", type=int, default=40)
    args = parser.parse_args(argv)
    try:
        args.processes = [int(n) for n in args.processes.split(",")]
    except ValueError:
        parser.error("--processes must be counts like 1,2")
    if not all(1 <= n <= 8 for n in args.processes) or not 1 <= args.channels <= 1000 or not 0 < args.seconds <= 900:
        parser.error("--processes must be 1..8 each, --channels 1..1000 and --seconds 0..900")
    results = asyncio.run(run(args))
    counts = list(results)
    print("| measure | " + " | ".join(f"{n} process{'es' if n > 1 else ''}" for n in counts) + " |")
    print("| --- |" + " --- |" * len(counts))
    for name in results[counts[0]]:
        cells = [results[n][name] for n in counts]
        print(f"| {name} | " + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in cells) + " |")


if __name__ == "__main__":
    main()
