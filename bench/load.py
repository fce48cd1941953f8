"""Load through Slack HTTP: many channels mention the real bot process at once, closed loop.

Starts the fake Slack Web API in this process and `python -m bot run` (the demo model, SQLite
in a temporary directory, rate limits off), then `--channels` conversations each send a
signed mention, wait for its answer (or `--answer-within-s`), and send the next, until
`--seconds` have passed; then every outstanding mention is waited for. Bounded in time and
count. Prints a table: mentions sent, answered, lost (no answer at all), duplicates (a
mention answered more than once), busy answers and apologies (they count as answered),
p50/p95 time to the answer, and the bot's RSS before and after. Run by hand, not by the test suite:

    python bench/load.py                          # 200 channels, 60 s
    python bench/load.py --channels 50 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fakes live with the tests

from adapters.slack_outbox import REPLY_EVENT  # noqa: E402
from bot import messages  # noqa: E402
from tests.fakes.process import BotProcess, write_config  # noqa: E402
from tests.fakes.slack_api import FakeSlackApi  # noqa: E402
from tests.fakes.slack_requests import SlackSender  # noqa: E402
from tests.fakes.slack_rig import BOT_TOKEN, SIGNING_SECRET  # noqa: E402
from tests.process import bot_env, free_port  # noqa: E402

__all__ = ["CountingSlackApi", "Tally", "closed_loop", "main", "rss_mb", "summary"]


@dataclass
class Tally:
    """Answers seen by the fake Web API, by the ts of the mention they answer."""

    sent_at: dict[str, float] = field(default_factory=dict)
    answers: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    busy: int = 0
    other_ephemeral: int = 0  # refusals, mostly (the safety checks, on input and output)
    gave_up: int = 0  # answered with the timeout or error apology
    waiting: dict[str, asyncio.Event] = field(default_factory=dict)

    def answered(self, ts: str, text: str, ephemeral: bool) -> None:
        self.answers[ts].append(time.monotonic())
        self.busy += text == messages.BUSY
        self.other_ephemeral += ephemeral and text != messages.BUSY
        self.gave_up += text in (messages.TIMEOUT, messages.ERROR)
        if ts in self.waiting:
            self.waiting[ts].set()


class CountingSlackApi(FakeSlackApi):
    """The fake Web API, noting each final reply (metadata `done`) and each ephemeral answer."""

    tally: Tally

    def _record(self, method: str, body: Mapping[str, Any], token: str) -> None:
        super()._record(method, body, token)
        metadata = body.get("metadata")
        if method in ("chat.postMessage", "chat.update") and isinstance(metadata, Mapping):
            payload = metadata.get("event_payload")
            if metadata.get("event_type") == REPLY_EVENT and isinstance(payload, Mapping) and payload.get("done"):
                self.tally.answered(str(payload.get("answers")), str(body.get("text")), ephemeral=False)
        elif method == "chat.postEphemeral" and body.get("thread_ts"):
            self.tally.answered(str(body["thread_ts"]), str(body.get("text")), ephemeral=True)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


PROMPTS = [
    "hello there, how are you today?",
    "what do you think about the weather this week?",
    "tell me a short story about a lighthouse",
    "can you recommend a good book?",
    "what is your favourite season and why?",
    "how do you make a cup of tea?",
    "any plans for the weekend?",
    "what's the best way to learn to cook?",
    "describe a walk in the forest",
    "what did you have for breakfast?",
    "which city would you like to visit?",
    "how was the meeting this morning?",
]


async def channel(
    name: str, sender: SlackSender, tally: Tally, until: float, answer_within_s: float, ids: itertools.count[int]
) -> None:
    """One conversation: mention, wait for the answer, mention again, until `until`."""
    rng = random.Random(name)
    while time.monotonic() < until:
        ts = f"{1_700_000_000 + next(ids)}.000100"
        tally.waiting[ts] = asyncio.Event()
        tally.sent_at[ts] = time.monotonic()
        text = f"<@UBOT> {rng.choice(PROMPTS)}"
        event = {"type": "app_mention", "user": "U1", "text": text, "channel": name, "ts": ts}
        sent = await sender.event(event)
        if sent.status != 200:
            print(f"{name}: HTTP {sent.status}", file=sys.stderr)
        with contextlib.suppress(TimeoutError):  # counted as lost unless it arrives before the end
            await asyncio.wait_for(tally.waiting[ts].wait(), answer_within_s)


async def closed_loop(sender: SlackSender, api: FakeSlackApi, tally: Tally, args: argparse.Namespace) -> float:
    """`args.channels` conversations for `args.seconds`, then every outstanding answer waited for;
    the seconds it all took."""
    started = time.monotonic()
    until = started + args.seconds
    ids = itertools.count(1)
    await asyncio.gather(
        *(channel(f"CL{i}", sender, tally, until, args.answer_within_s, ids) for i in range(args.channels))
    )
    late = [e.wait() for ts, e in tally.waiting.items() if not e.is_set()]
    if late:
        await asyncio.wait([asyncio.ensure_future(w) for w in late], timeout=args.answer_within_s)
    await api.settle(2.0)  # a duplicate would arrive now
    return time.monotonic() - started


def summary(tally: Tally) -> dict[str, float]:
    """What the fake Web API saw: answers, losses, duplicates, busy and apologies, p50/p95."""
    delays = sorted(tally.answers[ts][0] - sent for ts, sent in tally.sent_at.items() if tally.answers.get(ts))
    quantiles = statistics.quantiles(delays, n=20) if len(delays) >= 2 else [float("nan")] * 19
    return {
        "mentions sent": len(tally.sent_at),
        "answered": sum(1 for ts in tally.sent_at if tally.answers.get(ts)),
        "lost": sum(1 for ts in tally.sent_at if not tally.answers.get(ts)),
        "duplicates": sum(1 for ts in tally.sent_at if len(tally.answers.get(ts, [])) > 1),
        "busy answers": tally.busy,
        "other ephemeral answers (refusals)": tally.other_ephemeral,
        "timeout or error apologies": tally.gave_up,
        "p50 answer s": statistics.median(delays) if delays else float("nan"),
        "p95 answer s": quantiles[18],
    }


async def run(args: argparse.Namespace) -> dict[str, float]:
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="gpt2bot-load-") as tmp:
        api = CountingSlackApi()
        api.tally = tally
        async with api:
            api.add_user("U1", "Alice")
            port = free_port()
            config = {
                "model": {"name": "demo", "device": "cpu"},
                "generation": {"max_new_tokens": args.max_new_tokens},
                "storage": {"url": f"sqlite+aiosqlite:///{tmp}/bot.db"},
                "ratelimit": {"user_per_minute": 0, "channel_per_minute": 0},
                "slack": {"host": "127.0.0.1", "port": port, "api_base_url": api.base_url},
            }
            env = bot_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET)
            path = write_config(Path(tmp) / "bot.toml", config)
            async with BotProcess(path, env, Path(tmp) / "bot.log") as bot:
                await bot.wait_for_port(port, within_s=120)
                await asyncio.sleep(2)
                before = rss_mb(bot.pid)
                sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
                seconds = await closed_loop(sender, api, tally, args)
                after = rss_mb(bot.pid)
                await sender.close()
                bot.send(signal.SIGTERM)
                status = await bot.wait(within_s=120)
    return {
        "channels": args.channels,
        **summary(tally),
        "RSS before MB": before,
        "RSS after MB": after,
        "exit status": status,
        "seconds": seconds,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0, help="keep sending for this long")
    parser.add_argument("--answer-within-s", type=float, default=180.0, help="inference.timeout_s + margin")
    parser.add_argument("--max-new-tokens", type=int, default=60)
    args = parser.parse_args(argv)
    if not 1 <= args.channels <= 1000 or not 0 < args.seconds <= 900:
        parser.error("--channels must be 1..1000 and --seconds 0..900")
    results = asyncio.run(run(args))
    print("| measure | value |\n| --- | --- |")
    for name, value in results.items():
        shown = f"{value:.1f}" if isinstance(value, float) else str(value)
        print(f"| {name} | {shown} |")


if __name__ == "__main__":
    main()
