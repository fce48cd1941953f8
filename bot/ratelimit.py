"""Token buckets per user and per channel, so one person or one room can't hog the model."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "TokenBucket"]

_MAX_KEYS = 50_000


@dataclass
class TokenBucket:
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
    """`per_minute` messages per key, refilled continuously; 0 turns a limit off."""

    def __init__(self, user_per_minute: int, channel_per_minute: int, clock: Callable[[], float] = time.monotonic):
        self._limits = {"user": user_per_minute, "channel": channel_per_minute}
        self._buckets: OrderedDict[tuple[str, str], TokenBucket] = OrderedDict()
        self._clock = clock

    def check(self, user_key: str, channel_key: str) -> float:
        """0.0 if this message may go ahead, else the seconds to wait. A refusal costs nothing."""
        now = self._clock()
        keys = [("user", user_key), ("channel", channel_key)]
        buckets = [self._bucket(kind, key, now) for kind, key in keys if self._limits[kind] > 0]
        waits = [b.take(now) for b in buckets]
        wait = max(waits, default=0.0)
        if wait > 0:  # give back what the allowed buckets took
            for bucket, took in zip(buckets, waits, strict=True):
                if took == 0.0:
                    bucket.tokens += 1.0
        return wait

    def _bucket(self, kind: str, key: str, now: float) -> TokenBucket:
        bucket = self._buckets.get((kind, key))
        if bucket is None:
            per_minute = float(self._limits[kind])
            bucket = TokenBucket(per_minute, per_minute / 60.0, per_minute, now)
            self._buckets[(kind, key)] = bucket
            if len(self._buckets) > _MAX_KEYS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end((kind, key))
        return bucket
