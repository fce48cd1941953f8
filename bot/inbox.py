"""The inbox: platform events made durable before they are acknowledged, kept until answered.

An adapter `claim`s every event it receives *before* acknowledging it to the platform, and
marks it `done` once the core has handled it (answered, refused, or chose not to answer).
So an acknowledged event is never lost: if the process dies or is stopped first, the event
stays pending, and a recovery loop (`recover`) hands it to an adapter again once its lease
has run out — in this process after a restart, or in any other process sharing the database.

Leases make this safe with several processes: a claim holds the event for `lease` (renewed
while the process lives, see `keep_leases`); a redelivery of an event whose lease is live is
a duplicate, one whose lease ran out (its process died) is taken over. An event claimed
`MAX_ATTEMPTS` times without being answered is given up (it may be what crashes the bot).
The inbox also orders each conversation: `ahead` counts a message's predecessors still
pending, which `bot.turns.SharedTurns` waits out before the message's turn.

One narrow window remains: a reply delivered just before a crash, in the milliseconds before
`done`, is answered again after the restart.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

__all__ = ["MAX_ATTEMPTS", "Claim", "Delivery", "Inbox", "keep_leases", "recover"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # claims of one event before it is given up


class Claim(enum.Enum):
    NEW = "new"  # first time seen: handle it
    RETRY = "retry"  # seen before, never answered, its handler gone: handle it
    DUPLICATE = "duplicate"  # answered already, given up, or being handled by a live process: ignore


@dataclass(frozen=True)
class Delivery:
    """A pending event handed back for another try."""

    key: str  # platform-unique, e.g. "slack:Ev0123" or "discord:1234567890"
    platform: str
    route: Mapping[str, Any]  # JSON-able: what the adapter stored to answer it later
    received_at: datetime
    attempts: int  # claims so far, this one included


class Inbox(Protocol):
    """Implemented by `storage.inbox.SqlInbox` (and `MemoryInbox`, its in-memory twin)."""

    async def claim(
        self, key: str, platform: str, route: Mapping[str, Any], *, conversation: str = "", message_id: str = ""
    ) -> Claim:
        """Make the event durable and take it for this process, or say it is a duplicate.

        A chat message names its `conversation` (`ChannelRef.key`) and `message_id`
        (`Event.message_id`): several processes then answer a conversation's messages in
        the order their events arrived (`bot.turns.SharedTurns`, through `ahead`)."""
        ...

    async def done(self, key: str) -> None:
        """The event was handled: never hand it out again."""
        ...

    async def release(self, key: str) -> None:
        """This process gives the event up unanswered (shutdown): any process may take it now."""
        ...

    async def orphans(self, platform: str, max_age: timedelta, limit: int) -> list[Delivery]:
        """Pending events of `platform` whose lease ran out, received within `max_age`, now
        claimed for this process (oldest first). Older or too often tried ones are given up."""
        ...

    async def renew(self) -> None:
        """Extend the leases of every event this process holds; forget old answered ones."""
        ...

    async def ahead(self, conversation: str, message_id: str, since: datetime) -> int:
        """Pending events of `conversation` received after `since` and before `message_id`'s own
        (before now when it has none), that message's other events aside: what it waits for."""
        ...


async def recover(
    inbox: Inbox,
    platform: str,
    handle: Callable[[Delivery], Awaitable[None]],
    *,
    max_age: timedelta,
    every_s: float,
    batch: int = 50,
) -> None:
    """Forever: hand `platform`'s orphaned events to `handle`, then sleep `every_s`.

    `handle` must not raise for one event's failure (it is logged here and the loop goes on);
    cancel the task to stop."""
    while True:
        try:
            deliveries = await inbox.orphans(platform, max_age, batch)
        except Exception as exc:  # the database is away (an outage, a restart): one line, not a traceback
            log.warning(
                "%s: looking for unanswered events failed (%s); trying again in %.0f s", platform, _brief(exc), every_s
            )
            deliveries = []
        if deliveries:
            log.info("%s: answering %d event(s) left unanswered earlier", platform, len(deliveries))
        for delivery in deliveries:
            try:
                await handle(delivery)
            except Exception:
                log.exception("%s: answering left-over event %s failed", platform, delivery.key)
        if len(deliveries) < batch:
            await asyncio.sleep(every_s)


async def keep_leases(inbox: Inbox, every_s: float) -> None:
    """Forever: renew this process's leases every `every_s`; cancel the task to stop."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await inbox.renew()
        except Exception as exc:  # the database is away: one line, not a traceback
            log.warning("renewing inbox leases failed (%s); trying again in %.0f s", _brief(exc), every_s)


def _brief(exc: BaseException) -> str:
    """An exception as one short line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
