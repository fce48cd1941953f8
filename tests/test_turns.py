"""Conversation turns: in one process (asyncio locks), and across processes (SharedTurns over a
real inbox on SQLite and PostgreSQL and real Redis locks; two of each stand for two processes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from bot.events import ChannelRef
from bot.turns import LocalTurns, SharedTurns
from storage.database import create_engine, upgrade
from storage.inbox import SqlInbox
from storage.redis_locks import RedisLocks
from tests.conftest import RedisSpace

HERE = ChannelRef("slack", "T1", "C1")
ELSEWHERE = ChannelRef("slack", "T1", "C2")
PATIENCE = timedelta(minutes=2)


async def test_one_process_answers_a_conversation_in_arrival_order() -> None:
    turns = LocalTurns()
    order: list[str] = []

    async def answer(where: ChannelRef, name: str) -> None:
        turn = await turns.take(where, name)
        order.append(name)
        await asyncio.sleep(0.01)
        await turn.release()

    first = await turns.take(HERE, "0")
    waiting = [asyncio.create_task(answer(HERE, str(n))) for n in range(1, 4)]
    await answer(ELSEWHERE, "other")  # another conversation does not wait
    assert order == ["other"]
    await first.release()
    await asyncio.gather(*waiting)
    assert order == ["other", "1", "2", "3"]
    assert turns.conversations == 0  # nothing kept for conversations nobody waits in


async def test_a_message_that_stops_waiting_leaves_no_trace() -> None:
    turns = LocalTurns()
    held = await turns.take(HERE, "1")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await turns.take(HERE, "2")
    await held.release()
    assert turns.conversations == 0
    await (await turns.take(HERE, "3")).release()


@dataclass
class Process:
    """What one bot process brings to SharedTurns: its own inbox owner and Redis client."""

    inbox: SqlInbox
    redis: Redis
    turns: SharedTurns


@pytest.fixture
async def processes(database_url: str, redis_space: RedisSpace) -> AsyncIterator[list[Process]]:
    engine = create_engine(database_url)
    await upgrade(engine)
    made: list[Process] = []
    for _ in range(2):
        inbox = SqlInbox(engine, lease=timedelta(seconds=30), keep=timedelta(hours=1))
        redis = Redis.from_url(redis_space.url)
        made.append(Process(inbox, redis, SharedTurns(inbox, RedisLocks(redis, redis_space.prefix), PATIENCE, 0.02)))
    yield made
    for process in made:
        await process.redis.aclose()
    await engine.dispose()


async def claim(process: Process, key: str, where: ChannelRef, message_id: str) -> None:
    await process.inbox.claim(key, "slack", {}, conversation=where.key, message_id=message_id)


async def test_a_later_message_at_another_process_waits_until_the_earlier_one_is_answered(
    processes: list[Process],
) -> None:
    one, two = processes
    await claim(one, "slack:EvA", HERE, "1.1")
    await claim(two, "slack:EvB", HERE, "1.2")
    await claim(two, "slack:EvC", ELSEWHERE, "1.3")
    later = asyncio.create_task(two.turns.take(HERE, "1.2"))  # B's process is quicker to ask
    elsewhere = await asyncio.wait_for(two.turns.take(ELSEWHERE, "1.3"), 5)
    await asyncio.sleep(0.3)
    assert not later.done()
    earlier = await asyncio.wait_for(one.turns.take(HERE, "1.1"), 5)  # A goes first
    await earlier.release()
    await asyncio.sleep(0.2)
    assert not later.done()  # A's reply is out, but its event is not marked answered yet
    await one.inbox.done("slack:EvA")
    turn = await asyncio.wait_for(later, 5)
    await turn.release()
    await elsewhere.release()


async def test_the_lock_keeps_two_processes_apart_where_the_inbox_order_cannot(processes: list[Process]) -> None:
    one, two = processes  # neither message reached the inbox: only the lock orders them
    held = await one.turns.take(HERE, "1.1")
    waiting = asyncio.create_task(two.turns.take(HERE, "1.2"))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await held.release()
    await (await asyncio.wait_for(waiting, 5)).release()


async def test_an_earlier_message_that_could_no_longer_be_answered_in_time_is_not_waited_for(
    database_url: str, redis_space: RedisSpace
) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)
    redis = Redis.from_url(redis_space.url)
    try:
        long_ago = SqlInbox(engine, lease=timedelta(seconds=30), keep=timedelta(hours=1), clock=_minutes_ago(3))
        now = SqlInbox(engine, lease=timedelta(seconds=30), keep=timedelta(hours=1))
        await long_ago.claim("slack:EvA", "slack", {}, conversation=HERE.key, message_id="1.1")  # its process died
        await now.claim("slack:EvB", "slack", {}, conversation=HERE.key, message_id="1.2")
        turns = SharedTurns(now, RedisLocks(redis, redis_space.prefix), PATIENCE, 0.02)
        await (await asyncio.wait_for(turns.take(HERE, "1.2"), 5)).release()
    finally:
        await redis.aclose()
        await engine.dispose()


def _minutes_ago(minutes: int) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) - timedelta(minutes=minutes)
