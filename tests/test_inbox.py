"""The inbox (SqlInbox on SQLite and PostgreSQL, and MemoryInbox) through one contract, plus
`recover`: two inboxes on one database stand for two bot processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.inbox import MAX_ATTEMPTS, Claim, Delivery, Inbox, recover
from storage.database import create_engine, upgrade
from storage.inbox import SqlInbox
from storage.memory import MemoryInbox
from tests.conftest import DATABASES, empty_database

LEASE = timedelta(seconds=30)
AGE = timedelta(minutes=10)
Factory = Callable[[], Inbox]


class Clock:
    """Time that moves only when a test says so (the inboxes compare it, not the database's)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


CLOCK = Clock()


@pytest.fixture(params=[*DATABASES, "memory"])
async def inboxes(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Factory]:
    """Makes inboxes that share one database (one per simulated process)."""
    if request.param == "memory":
        shared = MemoryInbox(lease=LEASE, clock=CLOCK)

        def memory() -> Inbox:  # one dict: a "process" is the same inbox under a new owner id
            twin = MemoryInbox(lease=LEASE, clock=CLOCK)
            twin.entries = shared.entries
            return twin

        yield memory
        return
    async with empty_database(request.param, tmp_path) as url:
        engine = create_engine(url)
        await upgrade(engine)
        yield lambda: SqlInbox(engine, lease=LEASE, keep=timedelta(hours=1), clock=CLOCK)
        await engine.dispose()


async def expire() -> None:
    CLOCK.advance(LEASE + timedelta(seconds=1))


async def test_a_new_event_is_claimed_once_and_a_redelivery_is_a_duplicate(inboxes: Factory) -> None:
    one, two = inboxes(), inboxes()
    assert await one.claim("slack:Ev1", "slack", {"channel": "C1"}) is Claim.NEW
    assert await one.claim("slack:Ev1", "slack", {}) is Claim.DUPLICATE  # the same process, still handling it
    assert await two.claim("slack:Ev1", "slack", {}) is Claim.DUPLICATE  # another process while it is live


async def test_an_answered_event_is_never_handed_out_again(inboxes: Factory) -> None:
    one, two = inboxes(), inboxes()
    await one.claim("e", "slack", {})
    await one.done("e")
    await expire()
    assert await two.claim("e", "slack", {}) is Claim.DUPLICATE
    assert await two.orphans("slack", AGE, 10) == []


async def test_an_unanswered_event_of_a_dead_process_is_taken_over(inboxes: Factory) -> None:
    dead, alive = inboxes(), inboxes()
    await dead.claim("e1", "slack", {"channel": "C1", "ts": "1.2"})
    await dead.claim("e2", "discord", {})
    await expire()  # its process stopped renewing
    assert await alive.claim("e1", "slack", {}) is Claim.RETRY  # Slack redelivered it
    assert await alive.claim("e1", "slack", {}) is Claim.DUPLICATE
    found = await alive.orphans("discord", AGE, 10)
    assert [(d.key, d.platform, d.attempts) for d in found] == [("e2", "discord", 2)]
    assert await alive.orphans("discord", AGE, 10) == []  # now held by `alive`


async def test_renewed_leases_keep_a_slow_answer_from_being_taken_over(inboxes: Factory) -> None:
    slow, other = inboxes(), inboxes()
    await slow.claim("e", "slack", {"n": 1})
    for _ in range(3):
        CLOCK.advance(LEASE / 2)
        await slow.renew()
    assert await other.orphans("slack", AGE, 10) == []
    assert await other.claim("e", "slack", {}) is Claim.DUPLICATE


async def test_released_events_go_out_at_once_with_their_route(inboxes: Factory) -> None:
    stopping, restarted = inboxes(), inboxes()
    await stopping.claim("e", "slack", {"channel": "C9", "thread_ts": "7.7"})
    await stopping.release("e")
    found = await restarted.orphans("slack", AGE, 10)
    assert [d.route for d in found] == [{"channel": "C9", "thread_ts": "7.7"}]


async def test_an_event_that_keeps_failing_is_given_up(inboxes: Factory) -> None:
    inbox = inboxes()
    await inbox.claim("poison", "slack", {})
    for _ in range(MAX_ATTEMPTS - 1):
        await inbox.release("poison")
        assert len(await inbox.orphans("slack", AGE, 10)) == 1
    await inbox.release("poison")
    assert await inbox.orphans("slack", AGE, 10) == []
    assert await inbox.claim("poison", "slack", {}) is Claim.DUPLICATE


async def test_old_events_are_not_answered_late(inboxes: Factory) -> None:
    inbox = inboxes()
    await inbox.claim("old", "slack", {})
    await inbox.release("old")
    CLOCK.advance(timedelta(minutes=2))
    assert await inbox.orphans("slack", timedelta(minutes=1), 10) == []
    assert await inbox.orphans("slack", AGE, 10) == []  # given up for good


async def test_two_processes_racing_for_orphans_split_them(inboxes: Factory) -> None:
    first, a, b = inboxes(), inboxes(), inboxes()
    for n in range(20):
        await first.claim(f"e{n}", "slack", {})
        await first.release(f"e{n}")
    found_a, found_b = await asyncio.gather(a.orphans("slack", AGE, 50), b.orphans("slack", AGE, 50))
    keys = [d.key for d in found_a + found_b]
    assert sorted(keys) == sorted(f"e{n}" for n in range(20))  # each exactly once


async def test_recover_hands_orphans_to_the_adapter_and_keeps_going() -> None:
    inbox = MemoryInbox(lease=LEASE)  # real time: release puts the lease in the past
    for key in ("a", "b", "c"):
        await inbox.claim(key, "slack", {"key": key})
        await inbox.release(key)
    handled: list[str] = []

    async def handle(delivery: Delivery) -> None:
        if delivery.key == "b":
            raise RuntimeError("one bad event")
        handled.append(delivery.key)
        await inbox.done(delivery.key)

    task = asyncio.create_task(recover(inbox, "slack", handle, max_age=AGE, every_s=0.05))
    await asyncio.sleep(0.2)
    task.cancel()
    assert handled == ["a", "c"]
