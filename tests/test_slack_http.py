"""The Slack adapter over real HTTP: signed requests in, Web API calls out (HTTP mode).

Each test runs the real Bolt app on 127.0.0.1 behind `SlackAdapter`, sends requests the
way Slack does, and reads what reached the fake Web API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from bot.events import Event, Outbox, Reply, ReplyKind
from tests.fakes.slack_requests import event_callback
from tests.fakes.slack_rig import BOT_TOKEN, SIGNING_SECRET, ScriptedCore, slack_rig


def mention(text: str = "<@UBOT> hello", **extra: str) -> dict[str, str]:
    return {"type": "app_mention", "user": "U1", "text": text, "channel": "C1", "ts": "1000.0001", **extra}


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
        await rig.sender.event(mention("<@UBOT> and then?", ts="1000.0009", thread_ts="1000.0001"))
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
        await rig.sender.event(mention("<@UBOT> again", ts="1000.0002"))
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


async def test_stop_cancels_a_running_reply_and_removes_its_placeholder() -> None:
    core = ScriptedCore(hold=asyncio.Event())  # never released: the model is still working
    async with slack_rig(core) as rig:
        await rig.sender.event(mention())
        await rig.api.wait_for("chat.postMessage")
        assert rig.adapter.pending == 1
        await rig.adapter.stop()
        assert rig.adapter.pending == 0
        assert rig.api.calls_to("chat.delete")[0].body["ts"] == "1700000000.000001"
