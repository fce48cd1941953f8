"""ReplyPreview and the handler's use of it: timing, the output check, failures, and that
no preview can land after the finished reply."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

from bot.config import BotSection, Config
from bot.events import Author, ChannelRef, Event, ReplyKind
from bot.preview import ReplyPreview
from tests.fakes.core import STREAM_PARTS, RecordingOutbox, ScriptedGenerator, ScriptedGuard, build_core

WHERE = ChannelRef("test", "w", "c1")
ANN = Author("u1", "Ann")
REPLY = "one two three four five six seven eight"


def config(interval_s: float) -> Config:
    return Config(bot=dataclasses.replace(BotSection(), preview_interval_s=interval_s))


def said(text: str = "hi") -> Event:
    return Event(WHERE, ANN, text, message_id="m1", addressed=True)


async def test_a_slow_reply_is_previewed_as_it_grows_then_sent() -> None:
    rig = build_core(generator=ScriptedGenerator(REPLY, delay_s=0.8), config=config(0.15))
    outbox = RecordingOutbox()
    await rig.handler.on_message(said(), outbox)
    assert outbox.texts == [REPLY]
    assert 1 <= len(outbox.previews) <= STREAM_PARTS - 1
    assert all(p.endswith(" …") and REPLY.startswith(p[:-2]) for p in outbox.previews)
    assert outbox.events[-1] == ("send", REPLY)  # every preview came before the reply


async def test_a_quick_reply_is_not_previewed() -> None:
    rig = build_core(generator=ScriptedGenerator(REPLY, delay_s=0.2), config=config(1.0))
    outbox = RecordingOutbox()
    await rig.handler.on_message(said(), outbox)
    assert outbox.previews == [] and outbox.texts == [REPLY]


async def test_interval_zero_turns_previews_off() -> None:
    generator = ScriptedGenerator(REPLY, delay_s=0.4)
    rig = build_core(generator=generator, config=config(0.0))
    outbox = RecordingOutbox()
    await rig.handler.on_message(said(), outbox)
    assert outbox.previews == [] and outbox.texts == [REPLY]


async def test_text_the_output_check_would_change_is_never_previewed() -> None:
    guard = ScriptedGuard(held="four")
    rig = build_core(generator=ScriptedGenerator(REPLY, delay_s=0.8), config=config(0.1), guard=guard)
    outbox = RecordingOutbox()
    await rig.handler.on_message(said(), outbox)
    assert guard.previews_checked  # the partial texts were checked ...
    assert all("four" not in p for p in outbox.previews)  # ... and held back from "four" on
    assert any("four" in t for t in guard.previews_checked)
    assert outbox.texts == [REPLY]


async def test_a_failing_preview_is_logged_and_the_reply_still_arrives(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenPreviews(RecordingOutbox):
        async def preview(self, text: str) -> None:
            raise ConnectionError("platform down")

    rig = build_core(generator=ScriptedGenerator(REPLY, delay_s=0.6), config=config(0.1))
    outbox = BrokenPreviews()
    with caplog.at_level(logging.WARNING, logger="bot.preview"):
        await rig.handler.on_message(said(), outbox)
    assert outbox.texts == [REPLY]
    logged = [r.getMessage() for r in caplog.records]
    assert logged.count("reply preview failed; the reply is shown when it is done") == 1


async def test_close_waits_for_a_preview_in_flight() -> None:
    """A platform call still running when the reply is done must finish before the reply is
    sent, or the stale preview would overwrite the reply."""
    finished: list[str] = []

    class SlowPreviews(RecordingOutbox):
        async def preview(self, text: str) -> None:
            await asyncio.sleep(0.5)
            finished.append(text)
            await super().preview(text)

    rig = build_core(generator=ScriptedGenerator(REPLY, delay_s=0.4), config=config(0.05))
    outbox = SlowPreviews()
    await rig.handler.on_message(said(), outbox)
    assert finished and outbox.events[-1] == ("send", REPLY)


async def test_nothing_is_shown_after_close() -> None:
    outbox = RecordingOutbox()
    preview = ReplyPreview(outbox, None, 0.0)
    preview.update("partial")
    await preview.close()
    preview.update("partial text after the end")
    await asyncio.sleep(0.05)
    assert outbox.previews in ([], ["partial …"])
    assert all("after" not in p for p in outbox.previews)


async def test_refusals_after_a_preview_still_come_through() -> None:
    """Blocked three times: the previews of the attempts are replaced by the canned refusal."""
    guard = ScriptedGuard(output_blocked=[True] * 3)
    rig = build_core(generator=ScriptedGenerator(REPLY, delay_s=0.3), config=config(0.05), guard=guard)
    outbox = RecordingOutbox()
    await rig.handler.on_message(said(), outbox)
    assert outbox.previews and [r.kind for r in outbox.replies] == [ReplyKind.REFUSAL]
    assert outbox.events[-1][0] == "send"
