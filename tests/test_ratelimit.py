"""Rate limits per user and channel, in memory and in Redis (two limiters on one Redis stand for
two bot processes), with the wall clock moved by the test."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from limits.aio.storage import MemoryStorage, Storage

from bot.ratelimit import RateLimiter, TokenBucket
from tests.conftest import RedisSpace, redis_prefix

Storages = Callable[[], Storage]


class Clock:
    """`time.time` that moves only when the test says so (both storages read it)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(time, "time", fake)
    return fake


@pytest.fixture(params=["memory", "redis"])
async def storages(request: pytest.FixtureRequest) -> AsyncIterator[Storages]:
    """Makes the storage of one more "process": its own memory, or a client of the same Redis."""
    if request.param == "memory":
        yield MemoryStorage
        return
    from redis.asyncio import Redis

    from storage.redis_store import limits_storage

    clients: list[Redis] = []
    async with redis_prefix() as space:

        def on_redis() -> Storage:
            clients.append(Redis.from_url(space.url))
            return limits_storage(clients[-1], space.url, space.prefix)

        yield on_redis
        for client in clients:
            await client.aclose()


async def test_a_users_limit_frees_a_place_a_minute_after_each_message(storages: Storages, clock: Clock) -> None:
    limiter = RateLimiter(user_per_minute=2, channel_per_minute=0, storage=storages())
    assert await limiter.check("u", "c") == 0.0
    clock.now += 20
    assert await limiter.check("u", "c") == 0.0
    assert await limiter.check("u", "c") == pytest.approx(40.0, abs=0.5)  # until the first leaves the window
    assert await limiter.check("other", "c") == 0.0  # users are independent
    clock.now += 41
    assert await limiter.check("u", "c") == 0.0
    assert await limiter.check("u", "c") > 0


async def test_the_channels_limit_and_refusals_cost_nothing(storages: Storages, clock: Clock) -> None:
    limiter = RateLimiter(user_per_minute=60, channel_per_minute=1, storage=storages())
    assert await limiter.check("a", "c") == 0.0
    assert await limiter.check("b", "c") > 0  # the channel's minute is used up
    clock.now += 61
    # b's refused attempt spent none of b's own 60
    assert [await limiter.check("b", f"other{i}") for i in range(61)] == [0.0] * 60 + [pytest.approx(60, abs=1)]


async def test_zero_turns_a_limit_off(storages: Storages) -> None:
    limiter = RateLimiter(0, 0, storage=storages())
    assert [await limiter.check("u", "c") for _ in range(200)] == [0.0] * 200


async def test_two_processes_on_one_redis_count_together(
    redis_space: RedisSpace, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis.asyncio import Redis

    from storage.redis_store import limits_storage

    first, second = Redis.from_url(redis_space.url), Redis.from_url(redis_space.url)
    try:
        one = RateLimiter(3, 5, limits_storage(first, redis_space.url, redis_space.prefix))
        two = RateLimiter(3, 5, limits_storage(second, redis_space.url, redis_space.prefix))
        assert [await one.check("u", "c1"), await two.check("u", "c2"), await one.check("u", "c3")] == [0.0] * 3
        assert await two.check("u", "c4") > 0  # the user's fourth message, whichever process gets it
        assert [await two.check(f"v{i}", "c1") for i in range(5)] == [0.0] * 4 + [pytest.approx(60, abs=1)]
    finally:
        await first.aclose()
        await second.aclose()


async def test_while_redis_is_down_nobody_is_limited_and_that_is_logged_once(
    redis_space: RedisSpace, caplog: pytest.LogCaptureFixture
) -> None:
    from redis.asyncio import Redis

    from storage.redis_store import limits_storage

    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    client = Redis.from_url(dead, socket_connect_timeout=1)
    try:
        limiter = RateLimiter(1, 1, limits_storage(client, dead, redis_space.prefix))
        with caplog.at_level(logging.WARNING, logger="bot.ratelimit"):
            answers = [await limiter.check("u", "c") for _ in range(3)]
    finally:
        await client.aclose()
    assert answers == [0.0] * 3
    warnings: list[Any] = [r for r in caplog.records if "rate limits not applied" in r.getMessage()]
    assert len(warnings) == 1 and "ConnectionError" in warnings[0].getMessage()


def test_a_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(capacity=2, per_second=1.0, tokens=2, updated=0.0)
    assert [bucket.take(0.0), bucket.take(0.0)] == [0.0, 0.0]
    assert bucket.take(0.25) == pytest.approx(0.75)
    assert bucket.take(1.0) == 0.0
