"""Redis for several bot processes: one client per process, checked at start, shared by the rate
limits (`limits`' Redis storage on the same connection pool) and the conversation locks.

Only `bot.app` calls this, and only when `redis.url` is set; without Redis the bot keeps both
in memory (one process).
"""

from __future__ import annotations

import asyncio

from limits.aio.storage import RedisStorage
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.errors import ConfigError
from bot.rules import mask_credentials

__all__ = ["limits_storage", "open_redis", "redis_problem"]

CONNECT_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 10.0
_LIMITS_SCHEMES = {"redis": "async+redis", "rediss": "async+rediss", "unix": "async+redis+unix"}


async def open_redis(url: str, password: str) -> Redis:
    """A client for `url` that answered a PING, or ConfigError naming `redis.url` and why.

    `password` (from `redis.password_env`) is used when the URL carries none."""
    try:
        client = Redis.from_url(
            url,
            password=password or None,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=COMMAND_TIMEOUT_S,
            health_check_interval=30,
        )
    except ValueError as exc:
        raise ConfigError("redis.url", mask_credentials(url), f"not a Redis URL ({exc})") from None
    try:
        await asyncio.wait_for(client.ping(), CONNECT_TIMEOUT_S + COMMAND_TIMEOUT_S)
    except (RedisError, OSError, TimeoutError) as exc:
        await client.aclose()
        raise ConfigError("redis.url", mask_credentials(url), f"cannot use Redis: {_reason(exc)}") from None
    return client


def limits_storage(client: Redis, url: str, key_prefix: str) -> RedisStorage:
    """`limits`' Redis storage on `client`'s connection pool, its keys under `key_prefix`:ratelimit."""
    scheme, _, rest = url.partition("://")
    return RedisStorage(
        f"{_LIMITS_SCHEMES[scheme]}://{rest}",
        implementation="redispy",
        key_prefix=f"{key_prefix}:ratelimit",
        wrap_exceptions=True,
        # documented (RedisStorage's `connection_pool`), though its type hints allow only scalars
        connection_pool=client.connection_pool,  # type: ignore[arg-type]
    )


async def redis_problem(client: Redis, timeout_s: float = 3.0) -> str | None:
    """Why Redis cannot serve right now, or None: for /readyz."""
    try:
        await asyncio.wait_for(client.ping(), timeout_s)
    except TimeoutError:
        return f"no answer within {timeout_s:g} s"
    except (RedisError, OSError) as exc:
        return f"unreachable ({type(exc).__name__}: {_reason(exc)})"
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return mask_credentials(text)[:300]
