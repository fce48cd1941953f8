"""Per-user and per-channel rate limits, so one person or one room can't hog the model.

Each limit is "at most N chat messages in any minute" (a moving window), kept by the `limits`
library: in this process (`MemoryStorage`) when the bot runs alone, or in Redis (`RedisStorage`,
built by `storage.redis_store`) when several bot processes share the work, so a user's messages
count the same whichever process receives them.

A refusal costs nothing: every window is tested before any is charged. Two processes racing for
a window's last place can both pass the test; the loser is refused by the charge itself (the
library's atomic check-and-add), and only then may one window it passed before keep a charge
for a message that was refused. While the storage is unreachable the limits are not applied
(answering beats refusing everyone); that is logged, at most once a minute.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

__all__ = ["RateLimiter", "TokenBucket"]

log = logging.getLogger(__name__)

_WARN_EVERY_S = 60.0
_KINDS = ("user", "channel")


@dataclass
class TokenBucket:
    """One process's own budget (e.g. the Slack adapter's preview pace): `capacity` at once,
    refilled at `per_second`. The users' and channels' limits are `RateLimiter`'s."""

    capacity: float
    per_second: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take one token; 0.0 if allowed, else seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.per_second


class RateLimiter:
    """`per_minute` messages per user and per channel; 0 turns a limit off."""

    def __init__(
        self, user_per_minute: int, channel_per_minute: int, storage: Storage | None = None, *, window_s: int = 60
    ) -> None:
        self._storage = storage if storage is not None else MemoryStorage()
        self._window = MovingWindowRateLimiter(self._storage)
        limits = dict(zip(_KINDS, (user_per_minute, channel_per_minute), strict=True))
        self._items: dict[str, RateLimitItem] = {
            kind: RateLimitItemPerSecond(amount, window_s) for kind, amount in limits.items() if amount > 0
        }
        self._warned = -_WARN_EVERY_S

    async def check(self, user_key: str, channel_key: str) -> float:
        """0.0 if this message may go ahead (and it is counted), else the seconds to wait."""
        keys = [(kind, key) for kind, key in zip(_KINDS, (user_key, channel_key), strict=True) if kind in self._items]
        try:
            for kind, key in keys:
                if not await self._window.test(self._items[kind], kind, key):
                    return await self._wait(kind, key)
            for kind, key in keys:
                if not await self._window.hit(self._items[kind], kind, key):
                    return await self._wait(kind, key)
        except StorageError as exc:
            self._warn(exc)
        return 0.0

    async def _wait(self, kind: str, key: str) -> float:
        """Seconds until the oldest message in `key`'s full window leaves it (at least a little)."""
        stats = await self._window.get_window_stats(self._items[kind], kind, key)
        return max(stats.reset_time - time.time(), 0.1)

    def _warn(self, exc: StorageError) -> None:
        now = time.monotonic()
        if now - self._warned >= _WARN_EVERY_S:
            self._warned = now
            cause = exc.storage_error
            log.warning("rate limits not applied: their storage failed (%s: %s)", type(cause).__name__, cause)
