"""Starting and stopping the Slack adapter: Socket Mode, and start-up failures that name the fix."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from typing import Any

import pytest

from adapters.slack import SlackAdapter
from bot import messages
from bot.config import Secrets, SlackSection
from bot.errors import AdapterError
from bot.shutdown import drain
from storage.memory import MemoryInbox
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_requests import command_form, event_callback
from tests.fakes.slack_rig import BOT_TOKEN, QUICK_RETRIES, SIGNING_SECRET, ScriptedCore, slack_rig
from tests.fakes.slack_socket import FakeSocketMode

APP_TOKEN = "xapp-1-test-app-token-9876"


def adapter_for(api: FakeSlackApi, secrets: Secrets, **config: Any) -> SlackAdapter:
    fields: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "api_base_url": api.base_url, **config}
    section = dataclasses.replace(SlackSection(), **fields)
    return SlackAdapter(section, secrets, ScriptedCore(), MemoryInbox(), backoff=QUICK_RETRIES)


async def test_socket_mode_acks_envelopes_and_replies_through_the_web_api() -> None:
    core = ScriptedCore()
    async with FakeSocketMode() as ws, FakeSlackApi() as api:
        api.socket_url = ws.url
        api.add_user("U1", "Alice")
        secrets = Secrets(slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN)  # no signing secret needed
        adapter = SlackAdapter(
            dataclasses.replace(SlackSection(), api_base_url=api.base_url), secrets, core, MemoryInbox()
        )
        await adapter.start()
        try:
            assert adapter.mode == "socket" and adapter.url == ""
            assert api.calls_to("apps.connections.open")[0].token == APP_TOKEN
            await asyncio.wait_for(ws.connected.wait(), 5)
            event = {"type": "app_mention", "user": "U1", "text": "<@UBOT> hi", "channel": "C1", "ts": "5.1"}
            body = event_callback(event, event_id="EvS1")
            first = await ws.send("events_api", body)
            assert (await ws.wait_for_ack(first)) == {"envelope_id": first}
            update = (await api.wait_for("chat.update"))[0]
            assert update.body["text"] == "echo: hi"
            again = await ws.send("events_api", body, retry_attempt=1)  # redelivered: acked, not answered
            await ws.wait_for_ack(again)
            command = await ws.send("slash_commands", command_form("show", response_url=api.response_url()))
            await ws.wait_for_ack(command)
            await api.wait_for("response_url")
            await api.settle()
            assert len(api.calls_to("chat.update")) == 1
            assert [e.text for e in core.events] == ["hi"]
        finally:
            await adapter.stop()


async def test_missing_secrets_name_the_environment_variable() -> None:
    async with FakeSlackApi() as api:
        with pytest.raises(AdapterError, match="SLACK_BOT_TOKEN"):
            await adapter_for(api, Secrets()).start()
        with pytest.raises(AdapterError, match="SLACK_SIGNING_SECRET"):
            await adapter_for(api, Secrets(slack_bot_token=BOT_TOKEN)).start()
        assert api.calls == []


async def test_rejected_token_fails_start_without_printing_it() -> None:
    async with FakeSlackApi() as api:
        api.fail("auth.test", "invalid_auth")
        adapter = adapter_for(api, Secrets(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET))
        with pytest.raises(AdapterError, match="invalid_auth") as caught:
            await adapter.start()
        assert BOT_TOKEN not in str(caught.value)
        await asyncio.wait_for(adapter.wait(), 1)  # start failed: nothing left running


async def test_busy_port_fails_start_with_the_address() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with FakeSlackApi() as api:
            adapter = adapter_for(
                api, Secrets(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET), port=port
            )
            with pytest.raises(AdapterError, match=f"127.0.0.1:{port}"):
                await adapter.start()


async def test_stop_is_idempotent_and_ends_wait() -> None:
    async with slack_rig(ScriptedCore()) as rig:
        waiter = asyncio.create_task(rig.adapter.wait())
        await asyncio.sleep(0)
        assert not waiter.done()
        await rig.adapter.stop()
        await asyncio.wait_for(waiter, 1)
        await rig.adapter.stop()


async def test_unreachable_web_api_fails_start_with_the_address() -> None:
    async with FakeSlackApi() as api:
        address = api.base_url
    adapter = adapter_for(api, Secrets(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET))
    with pytest.raises(AdapterError, match=f"cannot reach the Slack Web API at {address}"):
        await adapter.start()


async def test_start_up_reads_only_the_configured_secrets(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-default-variable")  # Bolt looks here on its own
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "default-variable-secret")
    async with slack_rig(ScriptedCore()) as rig:
        assert (await rig.sender.json({"type": "url_verification", "challenge": "c"})).status == 200
        assert {c.token for c in rig.api.calls} == {BOT_TOKEN}
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_socket_mode_takes_no_events_once_paused() -> None:
    async with FakeSocketMode() as ws, FakeSlackApi() as api:
        api.socket_url = ws.url
        secrets = Secrets(slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN)
        adapter = SlackAdapter(
            dataclasses.replace(SlackSection(), api_base_url=api.base_url), secrets, ScriptedCore(), MemoryInbox()
        )
        await adapter.start()
        try:
            await asyncio.wait_for(ws.connected.wait(), 5)
            await adapter.pause()
            assert ws._sockets[-1].closed  # Slack sends to the app's other connections meanwhile
        finally:
            await adapter.stop()


async def test_a_burst_beyond_the_limit_gets_busy_answers_and_nothing_is_dropped() -> None:
    core = ScriptedCore(hold=asyncio.Event())
    inbox = MemoryInbox()
    async with slack_rig(core, inbox=inbox, adapter_args={"max_pending": 3}) as rig:
        sent = []
        for i in range(8):
            event = {"type": "app_mention", "user": "U1", "text": f"<@UBOT> {i}", "channel": "C1", "ts": f"1.{i}"}
            sent.append(await rig.sender.event(event))
        command = await rig.sender.command("show", response_url=rig.api.response_url())
        chatter = {
            "type": "message",
            "channel_type": "channel",
            "user": "U1",
            "text": "hi",
            "channel": "C1",
            "ts": "2.1",
        }
        unaddressed = await rig.sender.event(chatter)
        assert [s.status for s in sent] == [200] * 8 and command.status == 200
        assert unaddressed.status == 503  # nobody waits for it: Slack delivers it again later
        busy = await rig.api.wait_for("chat.postEphemeral", 5)
        assert {c.body["thread_ts"] for c in busy} == {f"1.{i}" for i in range(3, 8)}
        assert all(c.body["text"] == messages.BUSY for c in busy)
        assert (await rig.api.wait_for("response_url"))[0].body["text"] == messages.BUSY
        assert core.hold is not None
        core.hold.set()
        await rig.api.wait_for("chat.update", 3)
        await asyncio.wait_for(rig.adapter.idle(), 5)
        assert sorted(e.text for e in core.events) == ["0", "1", "2"]
        assert {entry.state for entry in inbox.entries.values()} == {"done"}  # 8 mentions + 1 command
        assert len(inbox.entries) == 9


async def test_a_drain_lets_replies_finish_within_the_grace_and_notes_the_rest() -> None:
    core = ScriptedCore(hold=asyncio.Event())
    async with slack_rig(core) as rig:
        for i in range(3):
            event = {"type": "app_mention", "user": "U1", "text": "<@UBOT> hi", "channel": "C1", "ts": f"3.{i}"}
            await rig.sender.event(event)
        await rig.api.wait_for("chat.postMessage", 3)
        draining = asyncio.create_task(drain([rig.adapter], grace_s=5.0))
        await rig.api.settle(0.2)
        assert (await rig.sender.event({**event, "ts": "3.9"})).status == 503  # taking no new work
        assert core.hold is not None
        core.hold.set()  # the model finishes within the grace
        await asyncio.wait_for(draining, 5)
        assert sorted(m.shown for m in rig.api.standing()) == ["echo: hi"] * 3
    late = ScriptedCore(hold=asyncio.Event())  # never finishes
    async with slack_rig(late) as rig:
        await rig.sender.event(event)
        await rig.api.wait_for("chat.postMessage")
        await asyncio.wait_for(drain([rig.adapter], grace_s=0.2), 5)
        assert [m.shown for m in rig.api.standing()] == [messages.restarting(answer_later=True)]
