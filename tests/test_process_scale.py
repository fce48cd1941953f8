"""Several real bot processes (`python -m bot --config C run`, the demo model) on one PostgreSQL
and one Redis, as README "Scaling out" deploys them.

Discord: two processes, each running one of two shards against the fake gateway, which sends
each guild's events only to the shard that owns it (`guild_id >> 22 % shard_count`); each
process answers its own guild's messages, and every message is answered once. Which process
answered is read from its JSON log (`answered: …` lines carry the conversation).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from storage.database import create_engine, upgrade
from tests.conftest import RedisSpace, empty_database
from tests.fakes.discord_payloads import World
from tests.fakes.discord_rig import TOKEN
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.process import BotProcess, write_config
from tests.process import bot_env

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MENTION = "<@1000>"
STARTED = "discord adapter started"
SECOND_GUILD = World(guild_id=(1 << 22) + 100, guild_name="Second Guild", general=320, other=321, thread=330)
Message = dict[str, Any]


@asynccontextmanager
async def shared_database(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh PostgreSQL database at the newest migration (`db upgrade`, as the operator runs it)."""
    async with empty_database("postgres", tmp_path) as url:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        yield url


def base_config(url: str, redis: RedisSpace) -> dict[str, dict[str, Any]]:
    return {
        "bot": {"preview_interval_s": 0.0},
        "model": {"name": "demo", "device": "cpu"},
        "generation": {"max_new_tokens": 8},
        "inference": {"prefix_cache_mb": 16},
        "storage": {"url": url},
        "redis": {"url": redis.url, "key_prefix": redis.prefix},
        "logging": {"level": "INFO", "format": "json"},
    }


def answered_in(log: str) -> list[str]:
    """The conversations a process answered, from its JSON log."""
    found = []
    for line in log.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if str(entry.get("message", "")).startswith("answered: "):
                found.append(str(entry.get("channel")))
    return found


def replies_to(fake: FakeDiscord, question: Message) -> list[Message]:
    bot_id = str(fake.world.bot.id)
    return [
        m
        for m in fake.messages.values()
        if m["author"]["id"] == bot_id and (m.get("message_reference") or {}).get("message_id") == question["id"]
    ]


async def test_two_processes_with_a_shard_each_answer_their_own_guilds_once(
    tmp_path: Path, redis_space: RedisSpace
) -> None:
    assert (SECOND_GUILD.guild_id >> 22) % 2 == 1 and (World().guild_id >> 22) % 2 == 0
    async with (
        shared_database(tmp_path) as url,
        FakeDiscord(more_worlds=(SECOND_GUILD,)) as fake,
        AsyncExitStack() as stack,
    ):
        bots = []
        for shard in (0, 1):
            sections = base_config(url, redis_space)
            sections["discord"] = {
                "api_base_url": fake.api_base,
                "gateway_url": fake.gateway_url,
                "guild_ready_timeout": 0.1,
                "shard_count": 2,
                "shard_ids": [str(shard)],
            }
            config = write_config(tmp_path / f"shard{shard}.toml", sections)
            bot = BotProcess(config, bot_env(DISCORD_TOKEN=TOKEN), tmp_path / f"shard{shard}.log")
            bots.append(await stack.enter_async_context(bot))
        await asyncio.gather(*(bot.wait_for_log(STARTED, within_s=90) for bot in bots))
        assert sorted(tuple(i["shard"]) for i in fake.gateway.identifies) == [(0, 2), (1, 2)]
        asked = []
        for world in (fake.world, SECOND_GUILD):
            for channel in (world.general, world.other):
                text = f"{MENTION} hello from {world.guild_name}"
                asked.append(await fake.push_message(channel, world.alice, text, mentions=(fake.world.bot,)))
        await fake.wait_until(lambda: all(len(replies_to(fake, q)) == 1 for q in asked), within_s=60)
        await asyncio.sleep(1.0)  # a second answer would come now
        assert all(len(replies_to(fake, q)) == 1 for q in asked)
    first, second = (answered_in(bot.log_text()) for bot in bots)
    assert sorted(first) == sorted(f"discord:100:{c}" for c in (fake.world.general, fake.world.other))
    assert sorted(second) == sorted(f"discord:{SECOND_GUILD.guild_id}:{c}" for c in (320, 321))
    assert not any("Traceback" in bot.log_text() for bot in bots)
