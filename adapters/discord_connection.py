"""Keeping the Discord gateway connected: discord.py's own reconnects, and ours for the rest.

`Client.connect(reconnect=True)` resumes or identifies again by itself after network
errors, 5xx answers and the close codes Discord means to be retried. Anything else (a
frame that is not JSON, a websocket protocol error, a payload one of discord.py's parsers
chokes on) leaves `connect()` and used to end the bot with one INFO line. `keep_connected`
logs such a failure with its traceback at ERROR, waits (exponential backoff with jitter)
and connects again; it gives up, with an `AdapterError`, after `MAX_FAILURES` failures in a
row. A connection that stayed up for `STABLE_S` ends the row.

Two endings are final at once, as before: Discord refusing the privileged Message Content
intent (4014), and the close codes discord.py does not retry (4004 bad token, 4010-4013
bad shard, API version or intents). A new connection identifies afresh: messages sent
while the bot was away are not replayed by Discord.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

import discord

from bot.errors import AdapterError

__all__ = ["FIRST_BACKOFF_S", "INTENT_REFUSED", "MAX_BACKOFF_S", "MAX_FAILURES", "STABLE_S", "keep_connected"]

log = logging.getLogger(__name__)

MAX_FAILURES = 5  # in a row; then the adapter ends and the bot exits non-zero
FIRST_BACKOFF_S = 1.0  # doubled after each failure in a row, up to MAX_BACKOFF_S (then 0.5-1x jitter)
MAX_BACKOFF_S = 60.0
STABLE_S = 60.0
INTENT_REFUSED = (
    "Discord refused the privileged Message Content intent, which the bot needs to read messages "
    "that don't mention it. Turn it on in the Discord Developer Portal: your application → Bot → "
    "Privileged Gateway Intents → Message Content Intent, then start the bot again."
)


async def keep_connected(
    client: discord.Client, replace: Callable[[], Awaitable[discord.Client]], stopping: asyncio.Event
) -> None:
    """Run `client`'s gateway connection until `stopping` is set and the client closed.

    A sharded client closes itself on a failure, and a closed client cannot log in again
    (its HTTP connector is closed with it): `replace` then makes and logs in a new one. Its
    failures count like the connection's."""
    loop = asyncio.get_running_loop()
    failures = 0
    while not stopping.is_set():
        started = loop.time()
        try:
            if client.is_closed():
                client = await replace()
            await client.connect(reconnect=True)
            return  # the client was closed: stop()
        except discord.PrivilegedIntentsRequired:
            raise AdapterError(INTENT_REFUSED) from None
        except discord.ConnectionClosed as exc:  # a close code discord.py does not retry
            raise AdapterError(f"the Discord gateway closed the connection: {exc}") from None
        except Exception as exc:
            if stopping.is_set():
                return
            failures = failures + 1 if loop.time() - started < STABLE_S else 1
            if failures >= MAX_FAILURES:
                log.error(
                    "discord: the gateway connection failed %d times in a row; giving up", failures, exc_info=True
                )
                raise AdapterError(
                    f"the Discord gateway connection failed {failures} times in a row; the last error: {exc!r}"
                ) from None
            delay = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** (failures - 1)) * random.uniform(0.5, 1.0)
            log.error(
                "discord: the gateway connection failed (%d of %d in a row); connecting again in %.1f s",
                failures,
                MAX_FAILURES,
                delay,
                exc_info=True,
            )
        await _close_socket(client)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), delay)


async def _close_socket(client: discord.Client) -> None:
    """The failed connection's websocket, which discord.py left open (and its heartbeat thread running)."""
    ws = client.ws
    if ws is not None and ws.open:
        await ws.close(code=1000)
