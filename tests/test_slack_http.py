"""The Slack adapter over real HTTP: signed requests in, Web API calls out (HTTP mode).

Each test runs the real Bolt app on 127.0.0.1 behind `SlackAdapter`, sends requests the
way Slack does, and reads what reached the fake Web API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from bot import messages
from bot.events import Event, Outbox, Reply, ReplyKind
from bot.inbox import Claim
from storage.memory import MemoryInbox
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_requests import event_callback, sign
from tests.fakes.slack_rig import BOT_TOKEN, SIGNING_SECRET, ScriptedCore, slack_rig


def mention(text: str = "hello", **extra: str) -> dict[str, str]:
    event = {"type": "app_mention", "user": "U1", "text": f"<@UBOT> {text}", "channel": "C1", "ts": "1000.0001"}
    return {**event, **extra}


async def test_url_verification_answers_the_challenge() -> None:
    async with slack_rig(ScriptedCore()) as rig:
        sent = await rig.sender.json({"token": "t", "challenge": "abc123", "type": "url_verification"})
        assert sent.status == 200
        assert json.loads(sent.text) == {"challenge": "abc123"}


async def test_bad_signature_and_stale_timestamp_get_401_and_no_reply() -> None:
    core = ScriptedCore()
    async with slack_rig(core) as rig:
        forged = await rig.sender.json(event_callback(mention()), secret="not-the-secret")
        stale = await rig.sender.json(event_callback(mention()), timestamp=int(time.time()) - 600)
        unsigned = await rig.sender.raw(json.dumps(event_callback(mention())).encode(), "application/json", {})
        assert (forged.status, stale.status, unsigned.status) == (401, 401, 401)
        await rig.api.settle()
        assert core.events == []
        assert rig.api.calls_to("chat.postMessage") == []


async def test_mention_is_acked_at_once_and_answered_in_its_thread_after_a_slow_model() -> None:
    core = ScriptedCore(hold=asyncio.Event())
    async with slack_rig(core) as rig:
        sent = await rig.sender.event(mention())
        assert sent.status == 200
        assert sent.elapsed_s < 1.0  # far inside Slack's 3 s, while the model is still busy
        placeholder = (await rig.api.wait_for("chat.postMessage"))[0]
        assert placeholder.body["thread_ts"] == "1000.0001"
        assert "thinking" in placeholder.body["text"]
        assert rig.api.calls_to("chat.update") == []  # nothing generated yet
        core.hold.set()  # type: ignore[union-attr]
        update = (await rig.api.wait_for("chat.update"))[0]
        assert update.body["channel"] == "C1"
        assert update.body["text"] == "echo: hello"
        assert core.events[0].where.thread == "1000.0001"
        assert core.events[0].addressed
        assert core.events[0].author.name == "Alice"


async def test_redelivered_event_is_answered_once() -> None:
    core = ScriptedCore()
    async with slack_rig(core) as rig:
        first = await rig.sender.event(mention(), event_id="Ev1")
        again = await rig.sender.event(mention(), event_id="Ev1", retry_num=1)
        assert (first.status, again.status) == (200, 200)
        await rig.api.wait_for("chat.update")
        await rig.api.settle()
        assert len(core.events) == 1
        assert len(rig.api.calls_to("chat.update")) == 1
        assert len(rig.api.calls_to("chat.postMessage")) == 1  # the placeholder only


async def test_thread_reply_stays_in_its_thread() -> None:
    core = ScriptedCore()
    async with slack_rig(core, placeholder=False) as rig:
        await rig.sender.event(mention("and then?", ts="1000.0009", thread_ts="1000.0001"))
        reply = (await rig.api.wait_for("chat.postMessage"))[0]
        assert reply.body["thread_ts"] == "1000.0001"
        assert reply.body["text"] == "echo: and then?"
        assert core.events[0].where.thread == "1000.0001"  # the same conversation as the thread's start
        assert core.events[0].message_id == "1000.0009"


async def test_direct_message_is_answered_in_the_dm() -> None:
    core = ScriptedCore()
    dm = {"type": "message", "channel_type": "im", "user": "U1", "text": "hi there", "channel": "D1", "ts": "2000.0001"}
    async with slack_rig(core, placeholder=False) as rig:
        assert (await rig.sender.event(dm)).status == 200
        reply = (await rig.api.wait_for("chat.postMessage"))[0]
        assert reply.body["channel"] == "D1"
        assert "thread_ts" not in reply.body  # a DM is one conversation
        event = core.events[0]
        assert (event.is_dm, event.addressed, event.where.workspace, event.where.thread) == (True, True, "", "")


async def test_plain_channel_message_reaches_the_core_unaddressed() -> None:
    core = ScriptedCore()  # like the real core in a channel without auto-reply: stays quiet
    message = {
        "type": "message",
        "channel_type": "channel",
        "user": "U1",
        "text": "just chatting",
        "channel": "C1",
        "ts": "3000.0001",
    }
    async with slack_rig(core) as rig:
        await rig.sender.event(message)
        await asyncio.wait_for(core.received.wait(), 5)
        await rig.api.settle()
        assert core.events[0].addressed is False
        assert core.events[0].where.thread == "3000.0001"  # an answer would start this thread
        assert [c.method for c in rig.api.calls if c.method.startswith("chat.")] == []


async def test_mention_is_answered_once_although_its_message_event_also_arrives() -> None:
    core = ScriptedCore()
    twin = {
        "type": "message",
        "channel_type": "channel",
        "user": "U1",
        "text": "<@UBOT> hello",
        "channel": "C1",
        "ts": "1000.0001",
    }
    async with slack_rig(core) as rig:
        await rig.sender.event(twin)
        await rig.sender.event(mention())
        await rig.api.wait_for("chat.update")
        await rig.api.settle()
        assert len(core.events) == 1
        assert core.events[0].addressed


async def test_bot_messages_its_own_and_edits_are_ignored() -> None:
    core = ScriptedCore()
    base = {"type": "message", "channel_type": "channel", "channel": "C1", "text": "<@UBOT> hi", "ts": "1.1"}
    ignored = [
        {**base, "subtype": "bot_message", "bot_id": "B9", "username": "other bot"},
        {**base, "user": "U7", "bot_id": "B7"},  # a bot user posting
        {**base, "user": "UBOT", "bot_id": "BBOT"},  # ourselves
        {**base, "user": "U1", "subtype": "message_changed"},
        {**base, "user": "U1", "subtype": "channel_join"},
        {"type": "app_mention", "user": "U7", "bot_id": "B7", "text": "<@UBOT> hi", "channel": "C1", "ts": "1.2"},
    ]
    async with slack_rig(core) as rig:
        for event in ignored:
            assert (await rig.sender.event(event)).status == 200
        await rig.api.settle()
        assert core.events == []
        assert [c.method for c in rig.api.calls if c.method.startswith("chat.")] == []


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def test_generated_broadcasts_and_mentions_never_reach_slack_as_mentions() -> None:
    nasty = "hey <!channel> <!here|here> <!everyone> <!subteam^S1|@team> <@U1> @here @channel & done"
    core = ScriptedCore(answer=lambda event: nasty)
    async with slack_rig(core) as rig:
        await rig.sender.event(mention())
        text = (await rig.api.wait_for("chat.update"))[0].body["text"]
        assert "<" not in text and ">" not in text  # no Slack markup can form at all
        assert "&lt;!channel&gt;" in text and "&amp; done" in text
        assert "@here" not in text and "@channel" not in text  # bare words broken by a zero-width space
        assert unescape(text).replace("\u200b", "") == nasty  # nothing else changed


async def test_long_reply_is_split_without_losing_text() -> None:
    words = [f"word{i}&<x>" for i in range(1500)]  # ~18,000 characters once escaped
    long_text = " ".join(words)
    core = ScriptedCore(answer=lambda event: long_text)
    async with slack_rig(core) as rig:
        await rig.sender.event(mention())
        await rig.api.wait_for("chat.update")
        await rig.api.settle()
        first = rig.api.calls_to("chat.update")[0].body["text"]
        rest = [c.body["text"] for c in rig.api.calls_to("chat.postMessage")[1:]]  # [0] is the placeholder
        chunks = [first, *rest]
        assert len(chunks) >= 6
        assert all(len(chunk) <= 3000 for chunk in chunks)
        assert all(c.body["thread_ts"] == "1000.0001" for c in rig.api.calls_to("chat.postMessage"))
        assert "".join(unescape(chunk) for chunk in chunks) == long_text
        assert all(not chunk.endswith("&") for chunk in chunks)  # never cut inside an entity


async def test_ephemeral_reply_goes_to_the_author_in_the_thread() -> None:
    class EphemeralCore(ScriptedCore):
        async def on_message(self, event: Event, outbox: Outbox) -> None:
            await outbox.send(Reply("slow down", ReplyKind.BUSY, ephemeral=True))

    async with slack_rig(EphemeralCore()) as rig:
        await rig.sender.event(mention())
        call = (await rig.api.wait_for("chat.postEphemeral"))[0]
        assert (call.body["user"], call.body["channel"], call.body["thread_ts"]) == ("U1", "C1", "1000.0001")
        await rig.api.settle()
        assert rig.api.calls_to("chat.postMessage") == []


async def test_placeholder_is_removed_when_no_reply_comes() -> None:
    core = ScriptedCore(answer=lambda event: "   ")
    async with slack_rig(core) as rig:
        await rig.sender.event(mention())
        placeholder = (await rig.api.wait_for("chat.postMessage"))[0]
        deleted = (await rig.api.wait_for("chat.delete"))[0]
        assert deleted.body["ts"] == "1700000000.000001"
        assert placeholder.body["text"] != deleted.body.get("text")
        assert rig.api.calls_to("chat.update") == []


async def test_web_api_error_while_replying_is_logged_and_the_adapter_keeps_working(
    caplog: pytest.LogCaptureFixture,
) -> None:
    core = ScriptedCore()
    async with slack_rig(core) as rig:
        rig.api.fail("chat.postMessage", "channel_not_found", times=2)  # placeholder, then the reply
        await rig.sender.event(mention())
        await rig.api.wait_for("chat.postMessage", 2)
        await rig.api.settle()
        assert any("channel_not_found" in r.getMessage() and r.levelno >= logging.ERROR for r in caplog.records)
        rig.api.fail("chat.update", "message_not_found")  # someone deleted the placeholder
        await rig.sender.event(mention("again", ts="1000.0002"))
        await rig.api.wait_for("chat.update")
        posted = await rig.api.wait_for("chat.postMessage", 4)
        assert posted[-1].body["text"] == "echo: again"  # posted instead of the failed update
        assert posted[-1].body["thread_ts"] == "1000.0002"


async def test_secrets_never_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    core = ScriptedCore()
    async with slack_rig(core) as rig:
        rig.api.fail("chat.update", "invalid_auth")  # failures get logged too
        await rig.sender.event(mention())
        await rig.sender.command("set top_p 0.9", response_url=rig.api.response_url())
        await rig.sender.json(event_callback(mention()), secret="wrong")
        await rig.api.wait_for("response_url")
        await rig.api.wait_for("chat.postMessage", 2)  # the reply, posted after the failed update
        await rig.api.settle()
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "chat.postMessage" in logged and "invalid_auth" in logged  # DEBUG logging was really on
    assert BOT_TOKEN not in logged and SIGNING_SECRET not in logged


async def test_stop_cancels_a_running_reply_and_leaves_a_restarting_note() -> None:
    core = ScriptedCore(hold=asyncio.Event())  # never released: the model is still working
    inbox = MemoryInbox()
    async with slack_rig(core, inbox=inbox) as rig:
        await rig.sender.event(mention(), event_id="Ev1")
        await rig.api.wait_for("chat.postMessage")
        assert rig.adapter.pending == 1
        await rig.adapter.stop()
        assert rig.adapter.pending == 0
        [note] = rig.api.thread("C1", "1000.0001")
        assert note.shown == messages.restarting(answer_later=True)  # not "thinking…" forever
        assert (await inbox.orphans("slack", timedelta(minutes=5), 10))[0].key == "slack:Ev1"  # answered later


# --- hostile and odd requests ------------------------------------------------------------

FORGED_TEXT = "words of a forged request"
BODIES = {
    "not json": b"this is not json at all " + FORGED_TEXT.encode(),
    "truncated": json.dumps(event_callback(mention(FORGED_TEXT))).encode()[:60],
    "event null": json.dumps({**event_callback(mention()), "event": None}).encode(),
    "event without a type": json.dumps({**event_callback(mention()), "event": {"type": 5}}).encode(),
    "a list": b"[1, 2, 3]",
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "not utf-8": b'{"type": "event_callback", "x": "\xff\xfe"}'.replace(b"\\xff\\xfe", b"\xff\xfe"),
    "empty payload field": b"payload=",
    "broken payload field": b"payload=%7Bnot+json",
}


def no_tracebacks_nor(text: str, caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert record.exc_info is None, record.getMessage()
        assert text not in record.getMessage()


@pytest.mark.parametrize("name", BODIES)
async def test_unsigned_and_forged_bodies_get_401_before_anything_is_parsed_or_logged(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    core = ScriptedCore()
    async with slack_rig(core) as rig:
        body = BODIES[name]
        unsigned = await rig.sender.raw(body, "application/json", {})
        forged = await rig.sender.raw(body, "application/json", sign("not-the-secret", body))
        odd_stamp = await rig.sender.raw(body, "application/json", {**sign(SIGNING_SECRET, body), **BAD_STAMP})
        assert (unsigned.status, forged.status, odd_stamp.status) == (401, 401, 401)
        assert core.events == []
    no_tracebacks_nor(FORGED_TEXT, caplog)


BAD_STAMP = {"X-Slack-Request-Timestamp": "１２３"}  # digits, but not ASCII ones


@pytest.mark.parametrize("name", BODIES)
async def test_malformed_signed_bodies_get_400_and_no_traceback(name: str, caplog: pytest.LogCaptureFixture) -> None:
    core = ScriptedCore()
    async with slack_rig(core) as rig:
        body = BODIES[name]
        kind = "application/x-www-form-urlencoded" if body.startswith(b"payload") else "application/json"
        sent = await rig.sender.raw(body, kind, sign(SIGNING_SECRET, body))
        assert sent.status == 400
        assert (await rig.sender.event(mention())).status == 200  # and it goes on working
        await rig.api.wait_for("chat.update")
    no_tracebacks_nor(FORGED_TEXT, caplog)


async def test_odd_but_readable_bodies_get_an_answer_and_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    form = b"a=b&c=d"
    odd = [
        (form, "application/x-www-form-urlencoded", 404),  # a form, but no command
        (json.dumps({"type": "event_callback", "event": {"type": "reaction_added"}}).encode(), JSON, 200),
        (json.dumps({**event_callback(mention()), "authorizations": 5}).encode(), JSON, 400),
        (json.dumps({**event_callback(mention()), "team_id": ["T1"]}).encode(), JSON, 200),  # answered
        (json.dumps({"type": "block_actions", "actions": "x"}).encode(), JSON, 404),
    ]
    async with slack_rig(ScriptedCore()) as rig:
        for body, kind, status in odd:
            assert (await rig.sender.raw(body, kind, sign(SIGNING_SECRET, body))).status == status, body
    no_tracebacks_nor(FORGED_TEXT, caplog)


JSON = "application/json"


async def test_a_huge_body_gets_413_unread() -> None:
    async with slack_rig(ScriptedCore()) as rig:
        body = json.dumps(event_callback(mention("x" * 2_000_000))).encode()
        assert (await rig.sender.raw(body, JSON, sign(SIGNING_SECRET, body))).status == 413


async def test_a_paused_adapter_answers_503_so_slack_delivers_elsewhere() -> None:
    core = ScriptedCore()
    async with slack_rig(core) as rig:
        await rig.adapter.pause()
        sent = await rig.sender.event(mention())
        assert sent.status == 503
        await rig.api.settle()
        assert core.events == []


# --- durable before the ack ----------------------------------------------------------------


class SlowInbox(MemoryInbox):
    """Claims wait for `open` (a slow database) or fail while `broken` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.open = asyncio.Event()
        self.open.set()
        self.broken = False

    async def claim(
        self, key: str, platform: str, route: Mapping[str, Any], *, conversation: str = "", message_id: str = ""
    ) -> Claim:
        await self.open.wait()
        if self.broken:
            raise OSError("database is unreachable")
        return await super().claim(key, platform, route, conversation=conversation, message_id=message_id)


async def test_slack_gets_its_200_only_after_the_event_is_stored() -> None:
    inbox = SlowInbox()
    async with slack_rig(ScriptedCore(), inbox=inbox) as rig:
        inbox.open.clear()
        sending = asyncio.create_task(rig.sender.event(mention(), event_id="EvSlow"))
        await asyncio.sleep(0.3)
        assert not sending.done()  # no ack while the claim is not stored
        assert "slack:EvSlow" not in inbox.entries
        inbox.open.set()
        assert (await sending).status == 200
        assert inbox.entries["slack:EvSlow"].route["text"] == "hello"  # with what is needed to answer it later
        await rig.api.wait_for("chat.update")


async def test_an_event_the_inbox_cannot_store_is_refused_and_its_redelivery_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox = SlowInbox()
    core = ScriptedCore()
    async with slack_rig(core, inbox=inbox) as rig:
        inbox.broken = True
        assert (await rig.sender.event(mention(), event_id="Ev1")).status == 503  # not acked: Slack retries
        assert core.events == []
        inbox.broken = False
        assert (await rig.sender.event(mention(), event_id="Ev1", retry_num=1)).status == 200
        await rig.api.wait_for("chat.update")
        await rig.api.settle()
        assert len(core.events) == 1
    assert "refusing slack:Ev1 so that Slack delivers it again" in caplog.text


async def test_a_redelivery_of_an_event_left_unanswered_is_answered_once() -> None:
    inbox = MemoryInbox()
    held = ScriptedCore(hold=asyncio.Event())
    async with FakeSlackApi() as api:
        async with slack_rig(held, inbox=inbox, api=api) as first:
            await first.sender.event(mention(), event_id="Ev1")
            await api.wait_for("chat.postMessage")
        # the first process stopped mid-reply: its event went back to the inbox
        core = ScriptedCore()
        async with slack_rig(core, inbox=inbox, api=api) as second:
            again = await second.sender.event(mention(), event_id="Ev1", retry_num=1)
            twice = await second.sender.event(mention(), event_id="Ev1", retry_num=2)
            assert (again.status, twice.status) == (200, 200)
            await api.wait_until(lambda: [m.shown for m in api.standing()] == ["echo: hello"])
            await api.settle(0.5)
        assert len(core.events) == 1
        assert [m.shown for m in api.thread("C1", "1000.0001")] == ["echo: hello"]  # in place of the note
        assert inbox.entries["slack:Ev1"].state == "done"


async def test_events_left_unanswered_are_answered_by_the_next_adapter_without_a_redelivery() -> None:
    inbox = MemoryInbox()
    async with FakeSlackApi() as api:
        async with slack_rig(ScriptedCore(hold=asyncio.Event()), inbox=inbox, api=api) as first:
            for i in range(3):
                await first.sender.event(mention(f"number {i}", ts=f"1000.000{i}"), event_id=f"Ev{i}")
            await api.wait_for("chat.postMessage", 3)
        notes = [m.shown for m in api.standing()]
        assert notes == [messages.restarting(answer_later=True)] * 3
        core = ScriptedCore()
        async with slack_rig(core, inbox=inbox, api=api):
            replies = {f"echo: number {i}" for i in range(3)}
            await api.wait_until(lambda: {m.shown for m in api.standing()} == replies)
            await api.settle(0.3)
        assert sorted(e.text for e in core.events) == [f"number {i}" for i in range(3)]
        assert len(api.calls_to("chat.postMessage")) == 3  # each note became "thinking…", then the reply


async def test_a_reply_delivered_just_before_a_crash_is_not_sent_again() -> None:
    inbox = MemoryInbox()
    async with FakeSlackApi() as api:
        async with slack_rig(ScriptedCore(), inbox=inbox, api=api) as first:
            await first.sender.event(mention(), event_id="Ev1")
            await api.wait_for("chat.update")
            await asyncio.wait_for(first.adapter.idle(), 5)
        # as if the process died after the reply arrived but before it marked the event done
        entry = inbox.entries["slack:Ev1"]
        entry.state, entry.lease_until = "pending", entry.received_at
        core = ScriptedCore()
        async with slack_rig(core, inbox=inbox, api=api):
            await api.wait_for("conversations.replies")  # the next process looks before it answers
            await api.settle(0.3)
        assert core.events == [] and entry.state == "done"
        assert [m.shown for m in api.standing()] == ["echo: hello"]
