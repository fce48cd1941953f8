"""RedisLocks on a real Redis: two clients stand for two processes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from storage.redis_locks import RedisLocks, _Held
from tests.conftest import RedisSpace


@pytest.fixture
async def clients(redis_space: RedisSpace) -> AsyncIterator[tuple[Redis, Redis]]:
    one, two = Redis.from_url(redis_space.url), Redis.from_url(redis_space.url)
    yield one, two
    await one.aclose()
    await two.aclose()


async def test_a_held_lock_is_renewed_past_its_ttl_and_frees_itself_when_its_holder_dies(
    clients: tuple[Redis, Redis], redis_space: RedisSpace
) -> None:
    one = RedisLocks(clients[0], redis_space.prefix, ttl_s=0.6)
    two = RedisLocks(clients[1], redis_space.prefix, ttl_s=0.6)
    held = await one.acquire("slack:T1:C1")
    assert await clients[0].exists(f"{redis_space.prefix}:turn:slack:T1:C1")
    waiting = asyncio.create_task(two.acquire("slack:T1:C1"))
    await asyncio.sleep(1.5)  # more than twice the TTL: the holder's renewals keep it
    assert not waiting.done()
    assert isinstance(held, _Held)
    held._renewal.cancel()  # the holder's process dies: no renewal, no release
    second = await asyncio.wait_for(waiting, 2)  # free within the TTL
    await second.release()
    assert not await clients[0].exists(f"{redis_space.prefix}:turn:slack:T1:C1")


async def test_locks_of_other_conversations_do_not_wait(clients: tuple[Redis, Redis], redis_space: RedisSpace) -> None:
    one, two = RedisLocks(clients[0], redis_space.prefix), RedisLocks(clients[1], redis_space.prefix)
    first = await one.acquire("a")
    second = await asyncio.wait_for(two.acquire("b"), 2)
    await first.release()
    await second.release()


async def test_without_redis_a_turn_goes_ahead_and_says_so(
    redis_space: RedisSpace, caplog: pytest.LogCaptureFixture
) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    try:
        with caplog.at_level(logging.WARNING, logger="storage.redis_locks"):
            turn = await RedisLocks(dead, redis_space.prefix).acquire("a")
            await turn.release()
    finally:
        await dead.aclose()
    assert any("going ahead in inbox order" in r.getMessage() for r in caplog.records)
