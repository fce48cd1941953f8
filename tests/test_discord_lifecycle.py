"""Starting and stopping the Discord adapter: intents, token, sharding, proxies, clean shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.discord import DiscordAdapter, api_base
from bot import messages
from bot.config import DiscordSection
from bot.errors import AdapterError
from storage.memory import MemoryInbox
from tests.fakes.discord_gateway import MESSAGE_CONTENT
from tests.fakes.discord_rig import TOKEN, ScriptedCore, discord_rig
from tests.fakes.discord_server import FakeDiscord

MENTION = "<@1000>"
GUILDS, GUILD_MESSAGES, DM_MESSAGES, MEMBERS, PRESENCES = 1 << 0, 1 << 9, 1 << 12, 1 << 1, 1 << 8


def endpoints() -> tuple[str, object]:
    """discord.py's process-wide REST base and first gateway URL."""
    return Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY


def section(fake: FakeDiscord, **options: Any) -> DiscordSection:
    return dataclasses.replace(
        DiscordSection(), api_base_url=fake.api_base, gateway_url=fake.gateway_url, guild_ready_timeout=0.05, **options
    )


async def test_refused_message_content_intent_names_the_developer_portal_toggle() -> None:
    before = endpoints()
    async with FakeDiscord(privileged_intents=False) as fake:
        adapter = DiscordAdapter(section(fake), TOKEN, ScriptedCore(), MemoryInbox())
        with pytest.raises(AdapterError) as raised:
            await adapter.start()
        assert "Bot → Privileged Gateway Intents → Message Content Intent" in str(raised.value)
        assert fake.gateway.identifies[0]["intents"] & MESSAGE_CONTENT
        assert fake.gateway.sessions == []
        await adapter.stop()  # already stopped by the failed start: a second stop is harmless
    assert endpoints() == before


async def test_identify_asks_only_for_the_intents_the_bot_uses() -> None:
    async with discord_rig(ScriptedCore()) as rig:
        intents = rig.fake.gateway.identifies[0]["intents"]
        assert intents == GUILDS | GUILD_MESSAGES | DM_MESSAGES | MESSAGE_CONTENT
        assert not intents & (MEMBERS | PRESENCES)


async def test_a_rejected_token_is_an_adapter_error_naming_the_variable() -> None:
    async with FakeDiscord() as fake:
        adapter = DiscordAdapter(section(fake), "wrong-token", ScriptedCore(), MemoryInbox())
        with pytest.raises(AdapterError, match="DISCORD_TOKEN"):
            await adapter.start()
        assert fake.gateway.identifies == []
    with pytest.raises(AdapterError, match="DISCORD_TOKEN"):
        await DiscordAdapter(DiscordSection(), "", ScriptedCore(), MemoryInbox()).start()


async def test_proxy_urls_are_used_and_put_back_on_stop() -> None:
    before = endpoints()
    async with discord_rig(ScriptedCore()) as rig:
        assert endpoints()[0] == rig.fake.api_base
        assert rig.fake.gateway.paths[0].startswith("/gateway?v=10&encoding=json")
        await rig.adapter.stop()
        assert endpoints() == before
    assert api_base("https://proxy.internal:8080/") == "https://proxy.internal:8080/api/v10"
    assert api_base("http://127.0.0.1:9/api/v9") == "http://127.0.0.1:9/api/v9"


async def test_auto_shards_use_the_sharded_client_through_the_configured_gateway() -> None:
    fake = FakeDiscord()
    fake.bot_gateway_path = "/gateway-advertised"  # what /gateway/bot says; the proxy must win
    core = ScriptedCore()
    async with discord_rig(core, fake=fake, shards="auto") as rig:
        w = rig.world
        assert rig.fake.find("GET", "/gateway/bot")  # asked for the recommended shard count
        assert rig.fake.gateway.identifies[0]["shard"] == [0, 1]
        assert [p.split("?")[0] for p in rig.fake.gateway.paths] == ["/gateway"]
        await rig.fake.push_message(w.general, w.alice, f"{MENTION} sharded", mentions=(w.bot,))
        [reply] = await rig.replies(w.general)
        assert reply.body["content"] == "echo: sharded"


async def test_stop_cancels_replies_in_flight_leaves_a_note_and_is_safe_twice() -> None:
    core = ScriptedCore(hold=asyncio.Event())  # a model that never finishes
    async with discord_rig(core) as rig:
        w = rig.world
        sent = await rig.fake.push_message(w.general, w.alice, f"{MENTION} slow", mentions=(w.bot,))
        await core.wait_for(events=1)
        assert rig.adapter.pending == 1
        await rig.adapter.stop()
        assert rig.adapter.pending == 0
        await rig.adapter.wait()  # the connection has ended: returns at once
        await rig.adapter.stop()
    [note] = rig.posted()
    assert note.body["content"] == messages.restarting(answer_later=True)
    assert note.body["message_reference"]["message_id"] == int(sent["id"])
    assert rig.fake.gateway.sessions == []  # the gateway connection was closed
    [orphan] = await rig.inbox.orphans("discord", timedelta(minutes=5), 10)  # released: answered after a restart
    assert orphan.route == {"channel": "300", "guild": "100", "message": sent["id"]}


async def test_wait_raises_when_discord_ends_the_session_for_good() -> None:
    async with discord_rig(ScriptedCore()) as rig:
        await rig.fake.gateway.close_all(code=4004)  # authentication failed: discord.py gives up
        with pytest.raises(AdapterError, match="4004"):
            await asyncio.wait_for(rig.adapter.wait(), 5)


async def test_a_reply_in_progress_finishes_during_the_grace_period_and_idle_returns_then() -> None:
    core = ScriptedCore(hold=asyncio.Event())
    async with discord_rig(core) as rig:
        w = rig.world
        await rig.fake.push_message(w.general, w.alice, f"{MENTION} finish this", mentions=(w.bot,))
        await core.wait_for(events=1)
        await rig.adapter.pause()
        idle = asyncio.create_task(rig.adapter.idle())
        await asyncio.sleep(0.05)
        assert not idle.done() and rig.adapter.pending == 1
        assert core.hold is not None
        core.hold.set()  # the model finishes within the grace period
        await asyncio.wait_for(idle, 5)
        [reply] = rig.posted()
        assert reply.body["content"] == "echo: finish this"  # the reply, not a note
