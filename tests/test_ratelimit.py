"""Token buckets per user and channel with an injected clock."""

from __future__ import annotations

from bot.ratelimit import RateLimiter


def test_user_limit_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(user_per_minute=2, channel_per_minute=0, clock=lambda: now[0])
    assert limiter.check("u", "c") == 0.0
    assert limiter.check("u", "c") == 0.0
    wait = limiter.check("u", "c")
    assert 29.0 < wait <= 30.0
    assert limiter.check("other", "c") == 0.0  # users are independent
    now[0] += 30.0
    assert limiter.check("u", "c") == 0.0


def test_channel_limit_and_refusals_cost_nothing() -> None:
    now = [0.0]
    limiter = RateLimiter(user_per_minute=60, channel_per_minute=1, clock=lambda: now[0])
    assert limiter.check("a", "c") == 0.0
    assert limiter.check("b", "c") > 0  # channel exhausted
    now[0] += 60.0
    assert limiter.check("b", "c") == 0.0
    # b's refused attempt did not spend b's own bucket: b still has 59 of 60 left
    assert all(limiter.check("b", f"other{i}") == 0.0 for i in range(50))


def test_zero_turns_limits_off() -> None:
    limiter = RateLimiter(0, 0)
    assert all(limiter.check("u", "c") == 0.0 for _ in range(1000))
