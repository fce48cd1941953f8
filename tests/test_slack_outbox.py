"""Replies into Slack threads: never a placeholder left, never a traceback, None when not delivered."""

from __future__ import annotations

import logging

import pytest

from adapters.slack_outbox import CommandOutbox, ThreadOutbox
from adapters.slack_web import PreviewPace, RateLimitWatch, SlackWeb
from bot import messages
from bot.events import Reply, ReplyKind
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_rig import slack_web

THINKING = messages.SLACK_THINKING


def outbox(web: SlackWeb, *, placeholder: str = THINKING, pace: PreviewPace | None = None) -> ThreadOutbox:
    return ThreadOutbox(web, channel="C1", thread_ts="1000.1", user="U1", placeholder=placeholder, pace=pace)


def reply(text: str = "hello *there* _you_ ~old~ `code` :smile:", kind: ReplyKind = ReplyKind.CHAT) -> Reply:
    return Reply(text, kind, reply_to="1000.1")


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> bool:
    return all(record.exc_info is None for record in caplog.records)


async def test_generated_text_is_shown_as_plain_text_and_replaces_the_placeholder() -> None:
    async with FakeSlackApi() as api, slack_web(api) as (web, _):
        box = outbox(web)
        async with box.working():
            pass
        ts = await box.send(reply())
        [shown] = api.thread("C1", "1000.1")
        assert shown.ts == ts and shown.edits == 1  # the placeholder, updated
        assert shown.blocks == [
            {
                "type": "section",
                "text": {"type": "plain_text", "text": "hello *there* _you_ ~old~ `code` :smile:", "emoji": False},
            }
        ]
        await box.close()
        assert api.calls_to("chat.delete") == []


async def test_the_bot_s_own_answers_keep_slack_formatting_and_drop_preview_blocks() -> None:
    async with FakeSlackApi() as api, slack_web(api) as (web, _):
        box = outbox(web)
        await box.preview("half a sen …")
        await box.send(reply(messages.TIMEOUT, ReplyKind.ERROR))
        [shown] = api.thread("C1", "1000.1")
        assert (shown.text, shown.blocks) == (messages.TIMEOUT, [])


async def test_a_failed_final_update_posts_the_reply_and_then_removes_the_placeholder(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with FakeSlackApi() as api, slack_web(api) as (web, _):
        box = outbox(web)
        async with box.working():
            api.rate_limit("chat.update", times=3, retry_after=0)  # more than slack_sdk retries
        ts = await box.send(reply("the answer"))
        [shown] = api.thread("C1", "1000.1")
        assert (shown.ts, shown.shown, shown.edits) == (ts, "the answer", 0)  # posted; the placeholder is gone
        assert no_tracebacks(caplog)


@pytest.mark.parametrize(
    ("update", "post"),
    [
        ({"status": 429, "error": "ratelimited", "retry_after": 0}, {"status": 429, "error": "ratelimited"}),
        ({"status": 500, "body": "text"}, {"status": 500, "body": "drop"}),
    ],
)
async def test_a_reply_that_cannot_be_delivered_is_logged_with_its_reference_and_leaves_nothing_behind(
    update: dict[str, object], post: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeSlackApi() as api, slack_web(api) as (web, _):
        box = outbox(web)
        async with box.working():
            api.fail("chat.update", times=3, **update)  # type: ignore[arg-type]
            api.fail("chat.postMessage", times=3, retry_after=0, **post)  # type: ignore[arg-type]
        assert await box.send(reply("the answer")) is None
        assert api.thread("C1", "1000.1") == []  # the placeholder was deleted
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert any("reply to message 1000.1 in C1 was not delivered" in e for e in errors), errors
        assert no_tracebacks(caplog)


async def test_stopping_mid_reply_leaves_a_restarting_note_or_at_least_no_placeholder() -> None:
    async with FakeSlackApi() as api, slack_web(api) as (web, _):
        box = outbox(web)
        async with box.working():
            await box.abandon(answer_later=True)
        [note] = api.thread("C1", "1000.1")
        assert note.shown == messages.restarting(True)
        other = ThreadOutbox(web, channel="C1", thread_ts="1000.2", user="U1", placeholder=THINKING)
        async with other.working():
            api.fail("chat.update", "message_not_found", times=1)
            await other.abandon(answer_later=False)
        assert api.thread("C1", "1000.2") == []


async def test_previews_wait_while_chat_update_is_rate_limited() -> None:
    now = [0.0]
    async with FakeSlackApi() as api, slack_web(api) as (web, _):
        watch = RateLimitWatch(clock=lambda: now[0])
        box = outbox(web, pace=PreviewPace(watch, clock=lambda: now[0]))
        async with box.working():
            await box.preview("one")
            watch._until["chat.update"] = now[0] + 5  # as after a 429 with Retry-After: 5
            await box.preview("one two")
            now[0] += 6
            await box.preview("one two three")
        assert [c.body["text"] for c in api.calls_to("chat.update")] == ["one", "one two three"]


async def test_a_failing_preview_is_skipped_and_the_reply_still_arrives(caplog: pytest.LogCaptureFixture) -> None:
    async with FakeSlackApi() as api, slack_web(api) as (web, _):
        box = outbox(web, placeholder="")
        api.fail("chat.postMessage", status=500, times=3)
        await box.preview("so far")
        ts = await box.send(reply("done"))
        assert [m.shown for m in api.thread("C1", "1000.1")] == ["done"] and ts
        assert no_tracebacks(caplog)


async def test_ephemeral_and_command_answers_return_none_when_slack_fails(caplog: pytest.LogCaptureFixture) -> None:
    async with FakeSlackApi() as api, slack_web(api) as (web, _):
        api.fail("chat.postEphemeral", status=500, body="drop", times=6)
        assert await outbox(web).send(Reply(messages.BUSY, ReplyKind.BUSY, ephemeral=True)) is None
        command = CommandOutbox(web, response_url="", channel="C1", user="U1")
        assert await command.send(Reply("ran it", ReplyKind.COMMAND)) is None
        assert no_tracebacks(caplog)
        assert await command.send(Reply("ran it", ReplyKind.COMMAND)) == ""  # Slack is back
