"""Remote backend against the local engine: N conversations at once through the bot's handler.

Both rows run the same tiny random GPT-2 (`demo` size, saved with `save_pretrained`) and the
same pipeline (handler, safety, SQLite, exact trimming); only the generator differs: the
in-process batched engine, or `transformers serve` on loopback behind the openai backend.
Each conversation sends `--turns` messages one after another; all conversations run at
once. Prints replies/s and p50/p95 reply latency side by side.

    python bench/remote.py                                  # 8 conversations x 3 turns
    python bench/remote.py --conversations 16 --serve-args=--continuous-batching
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/remote_kit runs the server

from bot.app import Services
from bot.config import BotSection, Config, GenerationSection, InferenceSection, ModelSection, StorageSection
from bot.events import Author, ChannelRef, Event, ReplyKind
from bot.inference.model import build_demo_model
from bot.inference.tokenizer import packaged_tokenizer
from tests.fakes.core import RecordingOutbox
from tests.remote_kit import TransformersServer

__all__ = ["Row", "main", "run_backend"]

REPLY_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Row:
    backend: str
    replies: int
    errors: int
    wall_s: float
    latencies: tuple[float, ...]

    def cells(self) -> list[str]:
        ordered = sorted(self.latencies) or [float("nan")]
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        return [
            self.backend,
            str(self.replies),
            str(self.errors),
            f"{self.wall_s:.1f}",
            f"{self.replies / self.wall_s:.2f}",
            f"{statistics.median(ordered):.2f}",
            f"{p95:.2f}",
        ]


def config_for(model_dir: Path, db: Path, max_new_tokens: int, url: str = "") -> Config:
    inference = InferenceSection(backend="openai", base_url=url, max_in_flight=64) if url else InferenceSection()
    return Config(
        bot=BotSection(preview_interval_s=0.0),
        model=ModelSection(name=str(model_dir), device="cpu"),
        generation=GenerationSection(max_new_tokens=max_new_tokens),
        # transformers serve answers one request at a time: the others wait there in silence
        inference=dataclasses.replace(inference, timeout_s=REPLY_TIMEOUT_S, read_timeout_s=REPLY_TIMEOUT_S),
        storage=StorageSection(url=f"sqlite+aiosqlite:///{db}"),
    )


async def run_backend(name: str, config: Config, conversations: int, turns: int) -> Row:
    services = await Services.start(config)
    latencies: list[float] = []
    errors = 0

    async def conversation(n: int) -> None:
        nonlocal errors
        author = Author(f"u{n}", f"User{n}", is_moderator=True)  # moderators skip the rate limit
        for turn in range(turns):
            outbox = RecordingOutbox()
            event = Event(ChannelRef("bench", "", f"c{n}"), author, f"hello, this is turn {turn}", addressed=True)
            started = time.monotonic()
            await asyncio.wait_for(services.handler.on_message(event, outbox), REPLY_TIMEOUT_S)
            if [r.kind for r in outbox.replies] == [ReplyKind.CHAT]:
                latencies.append(time.monotonic() - started)
            else:
                errors += 1

    try:
        await _warm_up(services)
        started = time.monotonic()
        await asyncio.gather(*(conversation(n) for n in range(conversations)))
        wall = time.monotonic() - started
    finally:
        await services.stop()
    return Row(name, len(latencies), errors, wall, tuple(latencies))


async def _warm_up(services: Services) -> None:
    """One reply before the clock starts: first-call costs are not what is compared."""
    author = Author("w", "Warm", is_moderator=True)
    event = Event(ChannelRef("bench", "", "warmup"), author, "hi", addressed=True)
    await asyncio.wait_for(services.handler.on_message(event, RecordingOutbox()), REPLY_TIMEOUT_S)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=8, choices=range(1, 65), metavar="1..64")
    parser.add_argument("--turns", type=int, default=3, choices=range(1, 11), metavar="1..10")
    parser.add_argument("--max-new-tokens", type=int, default=24, choices=range(1, 257), metavar="1..256")
    parser.add_argument("--serve-args", default="", help="extra `transformers serve` flags")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gpt2bot-bench-") as tmp:
        root = Path(tmp)
        model_dir = root / "model"
        build_demo_model().save_pretrained(model_dir)
        packaged_tokenizer().save_pretrained(model_dir)
        server = TransformersServer(model_dir, root / "serve.log", extra_args=tuple(shlex.split(args.serve_args)))
        server.start()
        try:
            rows = []
            for n, (name, url) in enumerate((("local engine", ""), (f"remote: {server.describe()}", server.base_url))):
                config = config_for(model_dir, root / f"bot{n}.db", args.max_new_tokens, url)
                rows.append(asyncio.run(run_backend(name, config, args.conversations, args.turns)))
        finally:
            server.stop()
    print(
        f"{args.conversations} conversations x {args.turns} turns, {args.max_new_tokens} new tokens a reply, "
        "tiny random GPT-2 (demo size), CPU"
    )
    header = ["backend", "replies", "errors", "wall s", "replies/s", "p50 s", "p95 s"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row.cells()) + " |")


if __name__ == "__main__":
    main()
