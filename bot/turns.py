"""Whose turn it is in a conversation: one reply at a time, in the order the messages arrived.

`LocalTurns` (one process): an `asyncio.Lock` per conversation. asyncio's lock wakes its
waiters first come, first served, so messages are answered in the order they reached the
handler.

`SharedTurns` (several processes on one database, with Redis): a lock alone would not order
waiters that sit in different processes, so a message first waits while an earlier message of
its conversation is still pending in the inbox (`Order`; the adapters record every event there,
with the time it arrived, before they acknowledge it, whichever process got it). Only then does
it take the conversation's lock (`Locks`: redis-py's Lock, renewed while held), which keeps two
processes apart where the order alone would not: an event taken over from a process that only
seemed dead, or one that never reached the inbox.

An earlier message is waited for only while it could still be answered in time (`patience`:
the handler ends every message within `inference.timeout_s` + `REPLY_MARGIN_S`), so an event
whose process died blocks its conversation for that long at most; it is answered later, out of
order, by whichever process recovers it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.events import ChannelRef

__all__ = ["LocalTurns", "Locks", "Order", "SharedTurns", "Turn", "Turns"]

POLL_S = 0.1  # how often a waiting message looks at the inbox again


class Turn(Protocol):
    """A conversation's turn, held until released."""

    async def release(self) -> None: ...


class Turns(Protocol):
    async def take(self, where: ChannelRef, message_id: str) -> Turn:
        """Wait for `where`'s turn (cancel to stop waiting); the caller must release it."""
        ...


class Order(Protocol):
    """Implemented by the inboxes (`storage.inbox.SqlInbox`, `storage.memory.MemoryInbox`)."""

    async def ahead(self, conversation: str, message_id: str, since: datetime) -> int:
        """Pending events of `conversation` that arrived after `since` and before `message_id`'s."""
        ...


class Locks(Protocol):
    """Implemented by `storage.redis_locks.RedisLocks`."""

    async def acquire(self, name: str) -> Turn:
        """Wait for the lock called `name` (cancel to stop waiting)."""
        ...


class LocalTurns:
    """One process: a fair `asyncio.Lock` per conversation, forgotten when nobody holds or wants it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: Counter[str] = Counter()

    async def take(self, where: ChannelRef, message_id: str) -> Turn:
        key = where.key
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            await lock.acquire()
        except BaseException:
            self._leave(key)
            raise
        return _LocalTurn(self, key, lock)

    @property
    def conversations(self) -> int:
        """Conversations with a message holding or waiting for its turn."""
        return len(self._locks)

    def _leave(self, key: str) -> None:
        self._users[key] -= 1
        if self._users[key] == 0:
            del self._users[key], self._locks[key]


class _LocalTurn:
    def __init__(self, turns: LocalTurns, key: str, lock: asyncio.Lock) -> None:
        self._turns, self._key, self._lock = turns, key, lock

    async def release(self) -> None:
        self._lock.release()
        self._turns._leave(self._key)


class SharedTurns:
    """Several processes: wait for the conversation's earlier messages in the inbox, then its lock."""

    def __init__(self, order: Order, locks: Locks, patience: timedelta, poll_s: float = POLL_S) -> None:
        self._order = order
        self._locks = locks
        self._patience = patience
        self._poll_s = poll_s

    async def take(self, where: ChannelRef, message_id: str) -> Turn:
        key = where.key
        # Polled: the earlier message may be answered by any process, and only the shared
        # database knows when (the inbox has no notifications to wait on).
        while True:
            if not await self._order.ahead(key, message_id, datetime.now(UTC) - self._patience):
                return await self._locks.acquire(key)
            await asyncio.sleep(self._poll_s)
