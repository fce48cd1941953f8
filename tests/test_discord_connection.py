"""The gateway connection survives what discord.py does not catch, and gives up only on a row of failures.

The fake gateway is scripted to fail the way a real connection can: a frame that is not
JSON, or a dispatch one of discord.py's parsers chokes on. Backoff is shortened so a row
of failures takes well under a second.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

import pytest

from adapters import discord_connection
from adapters.discord import DiscordAdapter
from bot import metrics
from bot.config import DiscordSection
from bot.errors import AdapterError
from storage.memory import MemoryInbox
from tests.fakes.discord_rig import TOKEN, ScriptedCore, discord_rig
from tests.fakes.discord_server import FakeDiscord

MENTION = "<@1000>"
NOT_JSON = "this frame is not JSON {"
BROKEN_DISPATCH = json.dumps({"op": 0, "s": 99, "t": "MESSAGE_CREATE", "d": {"id": "1", "channel_id": "300"}})


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discord_connection, "FIRST_BACKOFF_S", 0.05)


def failures_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "adapters.discord_connection" and r.levelno == logging.ERROR and r.exc_info is not None
    ]


@pytest.mark.parametrize("frame", [NOT_JSON, BROKEN_DISPATCH], ids=["not-json", "broken-dispatch"])
@pytest.mark.parametrize("shards", ["none", "auto"])
async def test_an_unexpected_gateway_failure_is_logged_with_its_traceback_and_the_bot_reconnects(
    frame: str, shards: str, caplog: pytest.LogCaptureFixture
) -> None:
    core = ScriptedCore()
    reconnects = metrics.REGISTRY.get_sample_value("gpt2bot_gateway_reconnects_total", {"platform": "discord"}) or 0
    with caplog.at_level(logging.ERROR, logger="adapters"):
        async with discord_rig(core, shards=shards) as rig:
            w, gateway = rig.world, rig.fake.gateway
            connection = asyncio.create_task(rig.adapter.wait())  # returns only if the connection ends
            await gateway.send_raw(frame)
            await rig.fake.wait_until(lambda: len(gateway.identifies) == 2 and len(gateway.sessions) == 1)
            await rig.fake.push_message(w.general, w.alice, f"{MENTION} still there?", mentions=(w.bot,))
            [reply] = await rig.replies(w.general)
            assert reply.body["content"] == "echo: still there?"
            assert not connection.done()
            connection.cancel()
    [failure] = failures_logged(caplog)
    assert "connecting again" in failure.getMessage()
    after = metrics.REGISTRY.get_sample_value("gpt2bot_gateway_reconnects_total", {"platform": "discord"})
    assert after == reconnects + 1  # an operator's dashboard sees it


async def test_the_adapter_gives_up_after_a_row_of_failures(caplog: pytest.LogCaptureFixture) -> None:
    async with FakeDiscord() as fake:
        fake.gateway.poison = NOT_JSON  # every connection fails right after GUILD_CREATE
        section = dataclasses.replace(
            DiscordSection(), api_base_url=fake.api_base, gateway_url=fake.gateway_url, guild_ready_timeout=0.05
        )
        adapter = DiscordAdapter(section, TOKEN, ScriptedCore(), MemoryInbox())
        with caplog.at_level(logging.ERROR, logger="adapters"), pytest.raises(AdapterError, match="5 times in a row"):
            await adapter.start()  # fails here, or ready came first and wait() fails
            await asyncio.wait_for(adapter.wait(), 10)
        await adapter.stop()
    assert len(fake.gateway.identifies) == discord_connection.MAX_FAILURES
    assert len(failures_logged(caplog)) == discord_connection.MAX_FAILURES


async def test_failures_far_apart_are_not_a_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discord_connection, "STABLE_S", 0.0)  # every connection counts as having been up
    fake = FakeDiscord()
    fake.gateway.poison = NOT_JSON
    async with discord_rig(ScriptedCore(), fake=fake) as rig:
        connection = asyncio.create_task(rig.adapter.wait())
        needed = discord_connection.MAX_FAILURES + 2
        await rig.fake.wait_until(lambda: len(rig.fake.gateway.identifies) >= needed, within_s=10)
        assert not connection.done()  # still reconnecting, not given up
        connection.cancel()


async def test_a_sharded_client_replaced_after_a_failure_answers_what_the_old_one_was_answering() -> None:
    core = ScriptedCore(hold=asyncio.Event())
    async with discord_rig(core, shards="auto") as rig:
        w, gateway = rig.world, rig.fake.gateway
        sent = await rig.fake.push_message(w.general, w.alice, f"{MENTION} a slow one", mentions=(w.bot,))
        await core.wait_for(events=1)
        await gateway.send_raw(NOT_JSON)  # the sharded client closes itself: its HTTP session too
        await rig.fake.wait_until(lambda: len(gateway.identifies) == 2)
        assert core.hold is not None
        core.hold.set()
        [reply] = await rig.replies(w.general)  # through the new client, found again in the inbox
        assert reply.body["content"] == "echo: a slow one"
        assert reply.body["message_reference"]["message_id"] == int(sent["id"])
        assert [e.message_id for e in core.events] == [sent["id"], sent["id"]]
        assert rig.fake.find("GET", rf"/channels/300/messages/{sent['id']}")  # fetched again by id
