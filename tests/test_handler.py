"""The chat pipeline through the real handler, store, history and commands; generator and guard scripted."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

import pytest

from bot import messages
from bot.config import Config, InferenceSection, RateLimitSection
from bot.errors import GenerationTimeout, QueueFull
from bot.events import Author, ChannelRef, Command, Event, Reply, ReplyKind
from bot.guard import Decision
from bot.inference.types import Generation, GenerationRequest
from bot.store import Role
from tests.fakes.core import RecordingOutbox, ScriptedGenerator, ScriptedGuard, build_core

WHERE = ChannelRef("slack", "T1", "C1")
ANN = Author("U1", "Ann")


def said(text: str, *, addressed: bool = True, where: ChannelRef = WHERE, author: Author = ANN) -> Event:
    return Event(where, author, text, f"id-{text[:8]}", addressed=addressed)


async def test_addressed_message_is_answered_and_both_turns_stored() -> None:
    gen = ScriptedGenerator("  hello Ann!  ")
    rig = build_core(generator=gen)
    stored_before_generation: list[int] = []
    gen.on_submit = lambda _r: stored_before_generation.append(len(rig.store._messages[WHERE]))  # type: ignore[attr-defined]
    outbox = RecordingOutbox()
    await rig.handler.on_message(said("hi bot"), outbox)
    assert outbox.replies == [Reply("hello Ann!", ReplyKind.CHAT, reply_to="id-hi bot")]
    assert stored_before_generation == [1]  # the user's turn was committed before generation
    turns = await rig.store.recent_messages(WHERE, 10)
    assert [(t.role, t.text) for t in turns] == [(Role.USER, "hi bot"), (Role.BOT, "hello Ann!")]
    assert outbox.working_entered == 1


async def test_prompt_is_the_transcript_with_a_speaker_stop() -> None:
    gen = ScriptedGenerator("first", "second")
    rig = build_core(generator=gen)
    outbox = RecordingOutbox()
    await rig.handler.on_message(said("one"), outbox)
    await rig.handler.on_message(said("two"), outbox)
    from bot.inference.tokenizer import packaged_tokenizer

    prompt = packaged_tokenizer().decode(list(gen.requests[1].prompt_ids))
    assert prompt == "Ann: one\nGPT-2: first\nAnn: two\nGPT-2:"
    assert gen.requests[1].stop_pattern and gen.requests[1].channel_key == WHERE.key


async def test_not_addressed_needs_auto_reply() -> None:
    rig = build_core()
    outbox = RecordingOutbox()
    await rig.handler.on_message(said("just chatting", addressed=False), outbox)
    assert outbox.replies == [] and await rig.store.count_messages(WHERE) == 0
    await rig.runner.run(Command(WHERE, Author("M", "Mod", is_moderator=True), "enable"))
    await rig.handler.on_message(said("just chatting", addressed=False), outbox)
    assert outbox.texts == ["hello there"]


async def test_threads_keep_their_own_history() -> None:
    gen = ScriptedGenerator()
    rig = build_core(generator=gen)
    thread = ChannelRef("slack", "T1", "C1", "1700000000.0001")
    await rig.handler.on_message(said("in channel"), RecordingOutbox())
    await rig.handler.on_message(said("in thread", where=thread), RecordingOutbox())
    from bot.inference.tokenizer import packaged_tokenizer

    assert "in channel" not in packaged_tokenizer().decode(list(gen.requests[1].prompt_ids))
    assert gen.requests[1].channel_key == thread.key


@pytest.mark.parametrize(
    ("error", "expected", "kind"),
    [
        (QueueFull(messages.BUSY), messages.BUSY, ReplyKind.BUSY),
        (GenerationTimeout("slow"), messages.TIMEOUT, ReplyKind.ERROR),
        (RuntimeError("CUDA error: secret detail"), messages.ERROR, ReplyKind.ERROR),
    ],
)
async def test_failures_become_short_replies_without_details(
    error: Exception, expected: str, kind: ReplyKind, caplog: pytest.LogCaptureFixture
) -> None:
    gen = ScriptedGenerator()
    gen.error = error
    rig = build_core(generator=gen)
    outbox = RecordingOutbox()
    with caplog.at_level(logging.WARNING):
        await rig.handler.on_message(said("hi"), outbox)
    assert [(r.text, r.kind) for r in outbox.replies] == [(expected, kind)]
    assert "secret detail" not in outbox.replies[0].text
    if isinstance(error, RuntimeError):
        assert "secret detail" in caplog.text  # the log has the details
    assert [t.role for t in await rig.store.recent_messages(WHERE, 10)] == [Role.USER]


async def test_too_long_input_is_refused_with_the_limit() -> None:
    rig = build_core()
    outbox = RecordingOutbox()
    await rig.handler.on_message(said("x" * 2001), outbox)
    assert outbox.replies[0].kind is ReplyKind.REFUSAL and "2000" in outbox.texts[0]


async def test_rate_limit_for_members_not_moderators() -> None:
    config = Config(ratelimit=RateLimitSection(user_per_minute=2, channel_per_minute=0))
    rig = build_core(config=config)
    outbox = RecordingOutbox()
    for i in range(3):
        await rig.handler.on_message(said(f"m{i}"), outbox)
    assert [r.kind for r in outbox.replies] == [ReplyKind.CHAT, ReplyKind.CHAT, ReplyKind.BUSY]
    assert "try again in" in outbox.texts[-1]
    mod = Author("M", "Mod", is_moderator=True)
    for i in range(3):
        await rig.handler.on_message(said(f"x{i}", author=mod), outbox)
    assert [r.kind for r in outbox.replies[3:]] == [ReplyKind.CHAT] * 3


async def test_messages_in_one_channel_are_answered_in_order_with_context() -> None:
    gen = ScriptedGenerator("r1", "r2", delay_s=0.05)
    rig = build_core(generator=gen)
    outbox = RecordingOutbox()
    await asyncio.gather(rig.handler.on_message(said("q1"), outbox), rig.handler.on_message(said("q2"), outbox))
    assert outbox.texts == ["r1", "r2"]
    from bot.inference.tokenizer import packaged_tokenizer

    assert packaged_tokenizer().decode(list(gen.requests[1].prompt_ids)).endswith("Ann: q1\nGPT-2: r1\nAnn: q2\nGPT-2:")


async def test_a_flood_in_one_channel_is_told_busy() -> None:
    gen = ScriptedGenerator(delay_s=0.05)
    rig = build_core(generator=gen)
    outbox = RecordingOutbox()
    mod = Author("M", "Mod", is_moderator=True)  # not rate limited
    await asyncio.gather(*(rig.handler.on_message(said(f"m{i}", author=mod), outbox) for i in range(8)))
    kinds = [r.kind for r in outbox.replies]
    assert kinds.count(ReplyKind.CHAT) == 5 and kinds.count(ReplyKind.BUSY) == 3


async def test_blocked_input_gets_a_refusal_with_ref_and_is_not_stored() -> None:
    guard = ScriptedGuard(input_decision=Decision(True, "", ref="a1b2c3"))
    rig = build_core(guard=guard)
    outbox = RecordingOutbox()
    await rig.handler.on_message(said("something nasty"), outbox)
    assert outbox.texts == ["I can't respond to that in this channel. (ref a1b2c3)"]
    assert "nasty" not in outbox.texts[0]
    assert await rig.store.count_messages(WHERE) == 0


async def test_self_harm_input_gets_support() -> None:
    rig = build_core(guard=ScriptedGuard(input_decision=Decision(True, "", ref="r", self_harm=True)))
    outbox = RecordingOutbox()
    await rig.handler.on_message(said("i want to hurt myself"), outbox)
    assert outbox.texts == [messages.SELF_HARM_SUPPORT]


async def test_blocked_output_is_regenerated_then_posted_redacted() -> None:
    gen = ScriptedGenerator("bad one", "bad two", "call 555-1234")
    guard = ScriptedGuard(output_blocked=[True, True, False])
    rig = build_core(generator=gen, guard=guard)
    outbox = RecordingOutbox()
    await rig.handler.on_message(said("hi"), outbox)
    assert outbox.texts == ["call [phone]"]
    assert len(gen.requests) == 3 and gen.requests[1].params.seed != gen.requests[2].params.seed
    assert [t.text for t in await rig.store.recent_messages(WHERE, 10)] == ["hi", "call [phone]"]


async def test_retries_sample_even_where_the_channel_decodes_greedily() -> None:
    gen = ScriptedGenerator("bad", "fine")
    rig = build_core(generator=gen, guard=ScriptedGuard(output_blocked=[True]))
    await rig.runner.run(Command(WHERE, Author("M", "Mod", is_moderator=True), "set do_sample off"))
    outbox = RecordingOutbox()
    await rig.handler.on_message(said("hi"), outbox)
    assert outbox.texts == ["fine"]
    first, retry = (r.params for r in gen.requests)
    assert not first.do_sample and first.seed is None
    assert retry.do_sample and retry.seed is not None and retry.num_beams == 1


async def test_three_blocked_outputs_give_the_canned_reply_never_a_candidate() -> None:
    gen = ScriptedGenerator("bad one", "bad two", "bad three", "fine")
    rig = build_core(generator=gen, guard=ScriptedGuard(output_blocked=[True] * 3))
    outbox = RecordingOutbox()
    await rig.handler.on_message(said("hi"), outbox)
    assert outbox.texts == [messages.OUTPUT_BLOCKED]
    assert len(gen.requests) == 3
    assert [t.role for t in await rig.store.recent_messages(WHERE, 10)] == [Role.USER]


async def test_output_check_failure_posts_nothing_generated() -> None:
    gen = ScriptedGenerator("candidate text")
    rig = build_core(generator=gen, guard=ScriptedGuard(output_error=RuntimeError("classifier crashed")))
    outbox = RecordingOutbox()
    await rig.handler.on_message(said("hi"), outbox)
    assert outbox.texts == [messages.ERROR]


async def test_outbox_failures_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenOutbox(RecordingOutbox):
        async def send(self, reply: Reply) -> str | None:
            raise ConnectionError("platform down")

    rig = build_core()
    with caplog.at_level(logging.ERROR):
        await rig.handler.on_message(said("hi"), BrokenOutbox())
    assert "could not deliver" in caplog.text


async def test_generation_request_carries_channel_settings() -> None:
    gen = ScriptedGenerator()
    rig = build_core(generator=gen)
    mod = Author("M", "Mod", is_moderator=True)
    await rig.runner.run(Command(WHERE, mod, "set max_new_tokens 7"))
    await rig.runner.run(Command(WHERE, mod, "set do_sample off"))
    await rig.handler.on_message(said("hi"), RecordingOutbox())
    request: GenerationRequest = gen.requests[0]
    assert request.params.max_new_tokens == 7 and request.params.do_sample is False


async def test_a_busy_channel_holds_one_place_in_line() -> None:
    """Fairness lives here: a conversation sends one request at a time, so another channel's
    message is generated before the flooding channel's second one."""
    gen = ScriptedGenerator(delay_s=0.1)
    rig = build_core(generator=gen)
    mod = Author("M", "Mod", is_moderator=True)
    other = ChannelRef("slack", "T1", "C2")
    flood = [
        asyncio.create_task(rig.handler.on_message(said(f"a{i}", author=mod), RecordingOutbox())) for i in range(3)
    ]
    await asyncio.sleep(0.02)
    await rig.handler.on_message(said("b", where=other, author=mod), RecordingOutbox())
    await asyncio.gather(*flood)
    assert [r.channel_key for r in gen.requests] == [WHERE.key, other.key, WHERE.key, WHERE.key]


async def test_a_reply_is_stored_with_its_platform_id_only_once_delivered() -> None:
    class Failing(RecordingOutbox):
        async def send(self, reply: Reply) -> str | None:
            await super().send(reply)
            return None  # the platform refused it (the adapter logged why)

    rig = build_core(generator=ScriptedGenerator("lost reply", "seen reply"))
    await rig.handler.on_message(said("first"), Failing())
    await rig.handler.on_message(said("second"), RecordingOutbox())
    turns = await rig.store.recent_messages(WHERE, 10)
    assert [(t.role, t.text, t.message_id) for t in turns] == [
        (Role.USER, "first", "id-first"),
        (Role.USER, "second", "id-second"),
        (Role.BOT, "seen reply", "sent-1"),
    ]


async def test_edits_and_deletions_change_what_the_next_prompt_sees() -> None:
    gen = ScriptedGenerator("ok")
    rig = build_core(generator=gen, guard=ScriptedGuard())
    await rig.handler.on_message(said("my number is 555"), RecordingOutbox())
    await rig.handler.on_message_edited(WHERE, "id-my numbe", "my number is private")
    await rig.handler.on_message_deleted(WHERE, "sent-1")  # a moderator removed the bot's reply
    turns = await rig.store.recent_messages(WHERE, 10)
    assert [t.text for t in turns] == ["my number is private"]


async def test_an_edit_into_something_blocked_removes_the_turn() -> None:
    guard = ScriptedGuard()
    rig = build_core(guard=guard)
    await rig.handler.on_message(said("harmless"), RecordingOutbox())
    guard.input_decision = Decision(True, "", ref="x")
    await rig.handler.on_message_edited(WHERE, "id-harmless", "something nasty")
    assert [t.role for t in await rig.store.recent_messages(WHERE, 10)] == [Role.BOT]


async def test_the_notice_travels_with_the_reply_that_first_drops_turns() -> None:
    rig = build_core(generator=ScriptedGenerator("short"))
    mod = Author("M", "Mod", is_moderator=True)
    texts: list[str] = []
    for i in range(4):
        outbox = RecordingOutbox()
        await rig.handler.on_message(said(f"{i} " + "word " * 390, author=mod), outbox)
        texts.append(outbox.replies[0].text)
    assert texts[0] == texts[1] == "short"
    assert texts[2].startswith("short\n\n⚠️") and "only see the last" in texts[2]
    assert texts[3] == "short"
    assert not [t for t in await rig.store.recent_messages(WHERE, 20) if "⚠️" in t.text]  # never in a prompt


async def test_every_message_ends_by_its_deadline_even_when_generation_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.handler.REPLY_MARGIN_S", 0.2)

    class Stuck(ScriptedGenerator):
        async def submit(self, request: GenerationRequest, on_text: object = None) -> Generation:
            await asyncio.Event().wait()  # a step that never returns, and no timeout of its own
            raise AssertionError

    config = Config(inference=dataclasses.replace(InferenceSection(), timeout_s=1.0))
    rig = build_core(generator=Stuck(), config=config)
    outboxes = [RecordingOutbox() for _ in range(3)]
    started = time.monotonic()
    mod = Author("M", "Mod", is_moderator=True)
    await asyncio.gather(*(rig.handler.on_message(said(f"m{i}", author=mod), box) for i, box in enumerate(outboxes)))
    assert time.monotonic() - started < 1.2 + 0.5
    assert [box.texts for box in outboxes] == [[messages.TIMEOUT]] * 3
    assert await rig.store.count_messages(WHERE) == 3  # what people said is kept
