"""End to end on one machine: real model loading, engine, queue, SQLite, handler and console."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
from pathlib import Path

import pytest

from adapters.console import ConsoleAdapter
from bot.app import Services
from bot.config import Config, InferenceSection, ModelSection, StorageSection
from bot.events import Author, ChannelRef, Event, ReplyKind
from bot.inference.engine import BatchEngine
from bot.inference.queue import InferenceQueue
from tests.fakes.core import RecordingOutbox


def config_for(model: str, db: Path, **inference: object) -> Config:
    return Config(
        model=ModelSection(name=model, device="cpu"),
        storage=StorageSection(url=f"sqlite+aiosqlite:///{db}"),
        inference=dataclasses.replace(InferenceSection(), **inference),  # type: ignore[arg-type]
    )


def local_queue(services: Services) -> InferenceQueue:
    assert isinstance(services.queue, InferenceQueue)
    return services.queue


async def chat(services: Services, lines: str, channel: str = "console") -> str:
    out = io.StringIO()
    console = ConsoleAdapter(services.handler, bot_name="GPT-2", channel=channel, stdin=io.StringIO(lines), stdout=out)
    await console.start()
    await asyncio.wait_for(console.wait(), 60)
    return out.getvalue()


async def test_console_chat_and_history_survive_a_restart(tiny_model_dir: Path, tmp_path: Path) -> None:
    config = config_for(str(tiny_model_dir), tmp_path / "bot.db")
    services = await Services.start(config)
    try:
        out = await chat(services, "hello\n\nhow are you?\n")
    finally:
        await services.stop()
    replies = [line for line in out.splitlines() if line.startswith("GPT-2: ")]
    assert len(replies) == 2  # one reply per non-empty line

    services = await Services.start(config)  # same database, new process state
    try:
        out = await chat(services, "/gpt2 status\n")
    finally:
        await services.stop()
    assert "4 messages stored" in out and "4 in the next prompt" in out


async def test_status_reports_prompt_tokens_reused_from_earlier_turns(tmp_path: Path) -> None:
    services = await Services.start(config_for("demo", tmp_path / "bot.db"), err=io.StringIO())
    try:
        out = await chat(services, "hello there\nhow are you today?\ntell me more\n/gpt2 status\n")
    finally:
        await services.stop()
    stats = services.queue.stats()
    assert 0 < stats.reused_tokens < stats.prompt_tokens
    assert f"Prefix cache: {stats.reused_tokens:,} of {stats.prompt_tokens:,} prompt tokens" in out


async def test_twenty_channels_at_once_are_batched(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    services = await Services.start(config_for("demo", tmp_path / "bot.db", max_batch=32), err=io.StringIO())
    local_queue(services)._summary_every_s = 0.0  # log every step's summary for this test
    mod = Author("u", "Ann", is_moderator=True)
    outboxes = [RecordingOutbox() for _ in range(20)]
    try:
        with caplog.at_level(logging.INFO, logger="bot.inference.queue"):
            await asyncio.gather(
                *(
                    services.handler.on_message(Event(ChannelRef("test", "", f"c{i}"), mod, "hi", addressed=True), box)
                    for i, box in enumerate(outboxes)
                )
            )
    finally:
        await services.stop()
    assert all(len(box.replies) == 1 and box.replies[0].kind is ReplyKind.CHAT for box in outboxes)
    assert services.queue.stats().largest_batch > 1
    assert any(
        "largest batch" in r.message and int(str(r.args[2])) > 1 for r in caplog.records if isinstance(r.args, tuple)
    )


async def test_the_real_engine_streams_previews_of_its_reply(tmp_path: Path) -> None:
    """Engine deltas → queue `on_text` → handler preview → outbox, on the demo model."""
    config = config_for("demo", tmp_path / "bot.db")
    config = dataclasses.replace(config, bot=dataclasses.replace(config.bot, preview_interval_s=0.05))
    generation = dataclasses.replace(config.generation, max_new_tokens=200, do_sample=False)
    config = dataclasses.replace(config, generation=generation)
    services = await Services.start(config, err=io.StringIO())
    local_queue(services)._engine.eos = -1  # type: ignore[attr-defined]  # random weights: never stop early on EOS
    outbox = RecordingOutbox()
    try:
        event = Event(ChannelRef("test", "", "c1"), Author("u", "Ann"), "tell me a long story", addressed=True)
        await services.handler.on_message(event, outbox)
    finally:
        await services.stop()
    [reply] = outbox.replies
    assert reply.kind is ReplyKind.CHAT and outbox.events[-1] == ("send", reply.text)
    assert outbox.previews, "a 200-token reply on the CPU takes longer than 0.05 s"
    assert all(p.endswith(" …") and reply.text.startswith(p[:-2].rstrip()) for p in outbox.previews)


async def test_a_batch_too_big_for_memory_is_lowered_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The admin's max_batch would need more memory than the machine has: the bot starts with
    what fits and says so, naming the key and the value to set."""
    monkeypatch.setattr("bot.inference.memory.available_bytes", lambda device: 200_000_000)  # demo: 2 MB a slot
    config = config_for("demo", tmp_path / "bot.db", max_batch=64, prefix_cache_mb=80)  # capped at 50 MB
    with caplog.at_level(logging.INFO, logger="bot.app"):
        services = await Services.start(config, err=io.StringIO())
    await services.stop()
    engine = local_queue(services)._engine
    assert isinstance(engine, BatchEngine) and engine.max_batch < 64
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    warning = next(w for w in warnings if "max_batch" in w)
    assert f"inference.max_batch = 64 does not fit in memory; using {engine.max_batch}" in warning
    assert f"Set inference.max_batch = {engine.max_batch}" in warning and "of 150 MB free" in warning
    assert "prefix cache 50 MB" in warning and engine.prefixes is not None
    assert engine.prefixes.budget_bytes == 50_000_000
    assert "inference.prefix_cache_mb = 80 is more than a quarter of the free memory; using 50 MB" in warnings
