"""Fuzzed console input through the real core: every line answered once, nothing logged as an error.

Bytes go through a pipe, so they take the path real stdin takes (UTF-8 with replacement);
the core behind it is the production handler, commands, safety, prompt building with the
real tokenizer and SQLite — only the model is scripted. Fixed seed, bounded count and time.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import random
import threading
from pathlib import Path

import pytest

from adapters.console import ConsoleAdapter
from bot.safety import Checker, MemorySafetyStore, Preset, Safety
from storage.database import open_database
from storage.repository import SqlStore
from tests.fakes.core import ScriptedGenerator, build_core

LINES = 300
PIECES = [
    "hello", "/gpt2 ", "status", "show", "set temperature ", "nan", "inf", "-1e309", "1e9999", "persona ",
    "safety test ", "unset ", "reset", "<@U1>", "@everyone", "&amp;", "\u202e", "\u200b", "\ufeff", "\x00",
    "\x1b[2J", "\U0001f600", "ﷺ", "𝕳𝖊𝖑𝖑𝖔", "--------", "\t", "http://x.y/" + "a" * 50, "999-999-9999",
    "日本語", "e\u0301", "::", "GPT-2:", "\r", "%s%n", "{0}", "'; DROP TABLE messages; --",
]  # fmt: skip


def fuzz_line(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.3:
        return bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 200))).replace(b"\n", b" ")
    if kind < 0.4:
        return "".join(chr(rng.randrange(0x20, 0x2FFFF)) for _ in range(rng.randrange(1, 80))).encode(
            "utf-8", "surrogatepass"
        )  # includes encoded lone surrogates
    if kind < 0.45:
        return (rng.choice(PIECES) * rng.randrange(100, 3000)).encode("utf-8", "replace")[:6000]
    text = "".join(rng.choice(PIECES) for _ in range(rng.randrange(1, 8)))
    return text.replace("\n", " ").encode("utf-8", "replace")


async def test_fuzzed_console_lines_each_get_one_answer_and_no_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(20261129)
    lines = [fuzz_line(rng) for _ in range(LINES)]
    engine = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", migrate=True)
    store = SqlStore(engine)
    safety = Safety(MemorySafetyStore(), Checker(), Preset.STANDARD)
    rig = build_core(store=store, generator=ScriptedGenerator("ok", "fine"), guard=safety)
    read, write = os.pipe()

    def feed() -> None:  # more than a pipe holds: written while the console reads
        with os.fdopen(write, "wb") as pipe:
            pipe.write(b"\n".join(lines) + b"\n")

    threading.Thread(target=feed, daemon=True).start()
    out = io.StringIO()
    console = ConsoleAdapter(rig.handler, bot_name="GPT-2", stdin=read, stdout=out)
    with caplog.at_level(logging.WARNING):
        await console.start()
        await asyncio.wait_for(console.wait(), timeout=120)
    os.close(read)
    await store.close()
    answered = out.getvalue().count("\n")
    expected = sum(1 for line in lines if line.decode("utf-8", "replace").strip())
    assert answered >= expected  # long replies may span lines; none is missing
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], errors[0].getMessage()
    assert "[error]" not in out.getvalue()
