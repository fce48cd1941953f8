"""The whole chat pipeline with the real safety guard: refusals, regeneration, canned reply,
redaction, fail closed, self-harm support, and the `safety` commands' permissions."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from sqlalchemy import event

from bot import messages
from bot.config import BotSection, Config
from bot.errors import CommandError, PermissionDenied
from bot.events import Author, ChannelRef, Command, Event, ReplyKind
from bot.safety import Category, Checker, MemorySafetyStore, Preset, Safety
from bot.safety.commands import run_command
from storage.database import create_engine, upgrade
from storage.safety_repo import SqlSafetyStore
from tests.fakes.core import RecordingOutbox, ScriptedGenerator, build_core

WHERE = ChannelRef("discord", "g1", "c1")
USER = Author("u1", "user")
MOD = Author("m1", "mod", is_moderator=True)


def rig(*outputs: str, log_content: bool = True) -> tuple[Safety, ScriptedGenerator, object]:
    safety = Safety(MemorySafetyStore(), Checker(), Preset.STANDARD, log_content=log_content)
    generator = ScriptedGenerator(*outputs)
    core = build_core(generator=generator, guard=safety)
    return safety, generator, core


async def say(core: object, text: str) -> RecordingOutbox:
    outbox = RecordingOutbox()
    await core.handler.on_message(Event(WHERE, USER, text, "m1", addressed=True), outbox)  # type: ignore[attr-defined]
    return outbox


async def test_blocked_input_is_refused_with_a_ref_and_never_generated() -> None:
    safety, generator, core = rig("hello")
    outbox = await say(core, "Immigrants are vermin")
    (reply,) = outbox.replies
    assert reply.kind is ReplyKind.REFUSAL and "vermin" not in reply.text.lower()
    ref = re.search(r"ref (\w+)", reply.text)
    assert ref and generator.requests == []
    (event,) = await safety.store.recent_events(WHERE, 10)
    assert event.ref == ref.group(1) and Category.SLUR_HATE in event.categories and event.user_id == "u1"


async def test_self_harm_input_gets_support_not_a_refusal() -> None:
    _, generator, core = rig("hello")
    outbox = await say(core, "I want to kill myself")
    assert outbox.texts == [messages.SELF_HARM_SUPPORT] and generator.requests == []


async def test_blocked_output_regenerates_then_posts_the_clean_one() -> None:
    safety, generator, core = rig("Immigrants are vermin", "I will kill you", "Nice to meet you!")
    outbox = await say(core, "hi bot")
    assert outbox.texts == ["Nice to meet you!"] and len(generator.requests) == 3
    events = await safety.store.recent_events(WHERE, 10)
    assert [e.stage for e in events].count("regenerate") == 2


async def test_three_bad_outputs_give_the_canned_reply_and_post_none_of_them() -> None:
    bad = ("Women are scum", "Gay people are disgusting freaks", "I will kill you")
    safety, generator, core = rig(*bad)
    outbox = await say(core, "hi bot")
    assert outbox.texts == [messages.OUTPUT_BLOCKED] and len(generator.requests) == 3
    assert not any(b in t for b in bad for t in outbox.texts)
    stages = [e.stage for e in reversed(await safety.store.recent_events(WHERE, 10))]
    assert stages == ["regenerate", "regenerate", "fallback"]  # the log says what happened to each


async def test_redacted_output_is_posted_with_marks_and_excerpt_is_pii_free() -> None:
    safety, _, core = rig("write to john@example.com or @everyone, card 4111 1111 1111 1111")
    outbox = await say(core, "how do I reach you?")
    assert outbox.texts == ["write to [email] or @\u200beveryone, card [card]"]
    (event,) = await safety.store.recent_events(WHERE, 10)
    assert "john@" not in event.excerpt and "[email]" in event.excerpt


async def test_excerpts_are_not_stored_unless_content_logging_is_on() -> None:
    safety, _, core = rig("mail john@example.com", log_content=False)
    await say(core, "hi")
    (event,) = await safety.store.recent_events(WHERE, 10)
    assert event.excerpt == ""


async def test_output_check_failure_posts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    safety, _, core = rig("a perfectly fine reply")

    def boom(*args: object) -> None:
        raise RuntimeError("detector crashed")

    monkeypatch.setattr(safety.checker, "check", boom)
    outbox = await say(core, "hi")
    assert "a perfectly fine reply" not in " ".join(outbox.texts)
    assert all(r.kind is not ReplyKind.CHAT for r in outbox.replies)


async def test_non_moderator_cannot_change_safety() -> None:
    safety, _, core = rig()
    with pytest.raises(PermissionDenied):
        await run_command(safety, "preset relaxed", WHERE, USER)
    outbox = RecordingOutbox()
    await core.handler.on_command(Command(WHERE, USER, "safety preset relaxed"), outbox)  # type: ignore[attr-defined]
    assert outbox.replies[0].kind is ReplyKind.REFUSAL
    assert (await safety.policy(WHERE)).preset is Preset.STANDARD


async def test_moderator_commands_change_policy_and_record_versions() -> None:
    safety, _, _ = rig()
    text, ephemeral = await run_command(safety, "preset strict", WHERE, MOD)
    assert "version 1" in text and not ephemeral
    await run_command(safety, "set profanity block output", WHERE, MOD)
    await run_command(safety, "workspace words add blorp", WHERE, MOD)
    await run_command(safety, "links allow https://docs.python.org/3/", WHERE, MOD)
    policy = await safety.policy(WHERE)
    assert policy.preset is Preset.STRICT and "blorp" in policy.words.blocked
    assert "docs.python.org" in policy.allowed_domains and policy.version == "workspace:1/channel:3"
    show, eph = await run_command(safety, "show", WHERE, MOD)
    assert "strict" in show and "profanity: censor≥0.8 / block≥0.4" in show and eph
    with pytest.raises(CommandError):
        await run_command(safety, "set slur_hate allow", WHERE, MOD)  # the hard floor
    with pytest.raises(CommandError):
        await run_command(safety, "set nonsense block", WHERE, MOD)
    with pytest.raises(CommandError):
        await run_command(safety, "preset yolo", WHERE, MOD)


async def test_safety_test_is_a_dry_run_and_log_lists_events() -> None:
    safety, _, core = rig()
    report, ephemeral = await run_command(safety, "test Immigrants are vermin", WHERE, MOD)
    assert ephemeral and "input: block" in report and "slur_hate" in report and "hate.dehum" in report
    assert await safety.store.recent_events(WHERE, 10) == []
    assert (await run_command(safety, "log", WHERE, MOD))[0] == messages.SAFETY_LOG_EMPTY
    await say(core, "Women are scum")
    log_text, _ = await run_command(safety, "log 5", WHERE, MOD)
    assert "input block [slur_hate] user u1" in log_text


async def test_previews_show_only_text_the_output_check_passes_and_log_nothing() -> None:
    safety = Safety(MemorySafetyStore(), Checker(), Preset.STANDARD, log_content=True)
    screen = await safety.screen(WHERE, USER.id)
    assert await screen.allows_preview("Nice to meet you, how")
    assert not await screen.allows_preview("write to john@example.com")  # would be redacted
    assert not await screen.allows_preview("I will kill you")  # would be blocked
    assert await safety.store.recent_events(WHERE, 10) == []  # the finished reply is what gets logged


async def test_a_slow_reply_previews_its_clean_start_but_never_its_blocked_end() -> None:
    """The reply turns hateful after a few words: the clean start may be previewed, the
    hateful text is never shown, and the regenerated reply replaces the preview."""
    safety = Safety(MemorySafetyStore(), Checker(), Preset.STANDARD)
    hateful = "Honestly immigrants are vermin and I have been thinking about it all day long"
    generator = ScriptedGenerator(hateful, "Nice to meet you!", delay_s=0.8)
    config = Config(bot=dataclasses.replace(BotSection(), preview_interval_s=0.1))
    core = build_core(generator=generator, guard=safety, config=config)
    outbox = await say(core, "hi bot")
    assert outbox.texts == ["Nice to meet you!"]
    assert outbox.previews and not any("vermin" in p for p in outbox.previews)
    assert outbox.events[-1] == ("send", "Nice to meet you!")


async def test_a_regenerated_reply_that_passes_is_logged_as_a_retry_when_flagged() -> None:
    safety, _, core = rig("I will kill you", "mail me at john@example.com")
    await say(core, "hi bot")
    stages = [e.stage for e in reversed(await safety.store.recent_events(WHERE, 10))]
    assert stages == ["regenerate", "retry"]


async def test_one_message_reads_the_policy_once_however_many_checks_it_needs(tmp_path: Path) -> None:
    """Input check, three output attempts and the previews of each: one policy query."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await upgrade(engine)
    queries: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "safety_policies" in statement:
            queries.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    safety = Safety(SqlSafetyStore(engine), Checker(), Preset.STANDARD)
    bad = "Honestly immigrants are vermin and I have been thinking about it all day long"
    generator = ScriptedGenerator(bad, bad, "Nice to meet you, it is a lovely day here", delay_s=0.4)
    config = Config(bot=dataclasses.replace(BotSection(), preview_interval_s=0.05))
    core = build_core(generator=generator, guard=safety, config=config)
    outbox = await say(core, "hi bot")
    assert outbox.texts == ["Nice to meet you, it is a lovely day here"] and outbox.previews
    assert len(queries) == 1
    await engine.dispose()
