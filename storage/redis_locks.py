"""`RedisLocks`: one lock per conversation in Redis (redis-py's `Lock`), for `bot.turns.SharedTurns`.

A lock expires `ttl_s` after it was last renewed, and a task renews it every third of that while
its holder lives, so a reply may take as long as it needs while a crashed process's lock frees
itself within `ttl_s`. A wait cancelled at the very moment Redis granted the lock leaves it
held until it expires (`ttl_s`); nothing else is lost.

When Redis fails, a turn goes ahead without the lock (logged): the inbox order that
`SharedTurns` waits for first still keeps a conversation's messages apart in every ordinary
case, and answering beats stalling every conversation while Redis is away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from bot.turns import Turn

__all__ = ["RedisLocks"]

log = logging.getLogger(__name__)

TTL_S = 30.0
WAIT_POLL_S = 0.05  # how often a waiting acquire tries again


class RedisLocks:
    """Implements `bot.turns.Locks`; lock names are `{key_prefix}:turn:{name}`."""

    def __init__(self, client: Redis, key_prefix: str, ttl_s: float = TTL_S) -> None:
        self._client = client
        self._prefix = f"{key_prefix}:turn:"
        self._ttl_s = ttl_s

    async def acquire(self, name: str) -> Turn:
        lock = Lock(self._client, self._prefix + name, timeout=self._ttl_s, sleep=WAIT_POLL_S, thread_local=False)
        try:
            await lock.acquire()
        except RedisError as exc:
            log.warning("conversation lock for %s not taken, Redis failed (%s); going ahead in inbox order", name, exc)
            return _Unlocked()
        return _Held(lock, name, self._ttl_s / 3)


class _Held:
    def __init__(self, lock: Lock, name: str, renew_every_s: float) -> None:
        self._lock = lock
        self._name = name
        self._renewal = asyncio.create_task(self._renew(renew_every_s), name=f"lock-renewal:{name}")

    async def _renew(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await self._lock.reacquire()
            except LockError:  # it expired (Redis lost it, or this process stalled past the TTL)
                log.warning("the conversation lock for %s ran out while held; the reply goes on", self._name)
                return
            except RedisError as exc:
                log.warning("renewing the conversation lock for %s failed (%s); trying again", self._name, exc)

    async def release(self) -> None:
        self._renewal.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._renewal
        try:
            await self._lock.release()
        except LockError:
            log.warning("the conversation lock for %s had run out before it was released", self._name)
        except RedisError as exc:
            log.warning("releasing the conversation lock for %s failed (%s); it expires on its own", self._name, exc)


class _Unlocked:
    async def release(self) -> None:
        return None
