"""`SqlInbox`: `bot.inbox.Inbox` over SQLAlchemy, the same statements on SQLite and PostgreSQL.

A claim is one `INSERT … ON CONFLICT DO NOTHING RETURNING`; taking over an event whose lease
ran out is one conditional `UPDATE … RETURNING`, so two processes racing for the same event
cannot both win it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Insert, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.inbox import MAX_ATTEMPTS, Claim, Delivery
from storage.database import session_factory
from storage.models import InboxRow
from storage.repository import utc

__all__ = ["SqlInbox"]

log = logging.getLogger(__name__)

PENDING, DONE, DROPPED = "pending", "done", "dropped"


class SqlInbox:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        lease: timedelta,
        keep: timedelta,
        owner: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._now = clock
        self._sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        self._lease = lease
        self._keep = keep  # how long answered keys are remembered (redeliveries come within minutes)
        self.owner = owner or secrets.token_hex(8)

    async def claim(
        self, key: str, platform: str, route: Mapping[str, Any], *, conversation: str = "", message_id: str = ""
    ) -> Claim:
        now = self._now()
        values = {
            "key": key[:200],
            "platform": platform,
            "route": dict(route),
            "received_at": now,
            "state": PENDING,
            "owner": self.owner,
            "lease_until": now + self._lease,
            "attempts": 1,
            "conversation": conversation[:200],
            "message_id": message_id[:64],
        }
        async with self._sessions.begin() as session:
            inserted = await session.scalar(self._insert(values).returning(InboxRow.key))
            if inserted is not None:
                return Claim.NEW
            taken = await session.scalar(self._take_over(key[:200], now).returning(InboxRow.key))
        return Claim.RETRY if taken is not None else Claim.DUPLICATE

    async def done(self, key: str) -> None:
        await self._set(key, state=DONE, lease_until=self._now())

    async def release(self, key: str) -> None:
        now = self._now()
        async with self._sessions.begin() as session:
            await session.execute(
                update(InboxRow)
                .where(InboxRow.key == key[:200], InboxRow.owner == self.owner, InboxRow.state == PENDING)
                .values(lease_until=now - timedelta(seconds=1))
            )

    async def orphans(self, platform: str, max_age: timedelta, limit: int) -> list[Delivery]:
        now = self._now()
        expired = (InboxRow.platform == platform, InboxRow.state == PENDING, InboxRow.lease_until < now)
        async with self._sessions.begin() as session:
            given_up = await session.scalars(
                update(InboxRow)
                .where(*expired, (InboxRow.received_at < now - max_age) | (InboxRow.attempts >= MAX_ATTEMPTS))
                .values(state=DROPPED)
                .returning(InboxRow.key)
            )
            for key in given_up:
                log.warning("%s: giving up on event %s (too old, or tried %d times)", platform, key, MAX_ATTEMPTS)
            keys = list(
                await session.scalars(select(InboxRow.key).where(*expired).order_by(InboxRow.received_at).limit(limit))
            )
        found: list[Delivery] = []
        for key in keys:
            async with self._sessions.begin() as session:
                row = await session.scalar(self._take_over(key, now).returning(InboxRow))
                if row is not None:
                    found.append(Delivery(row.key, row.platform, row.route, utc(row.received_at), row.attempts))
        return found

    async def renew(self) -> None:
        now = self._now()
        async with self._sessions.begin() as session:
            await session.execute(
                update(InboxRow)
                .where(InboxRow.owner == self.owner, InboxRow.state == PENDING)
                .values(lease_until=now + self._lease)
            )
            await session.execute(
                delete(InboxRow).where(InboxRow.state != PENDING, InboxRow.received_at < now - self._keep)
            )

    async def ahead(self, conversation: str, message_id: str, since: datetime) -> int:
        """Pending events of `conversation` received after `since` and before `message_id`'s
        own event (before now, when it has none), other than that message's own events."""
        where = (InboxRow.conversation == conversation[:200], InboxRow.state == PENDING)
        async with self._sessions() as session:
            mine = (
                await session.execute(
                    select(InboxRow.received_at, InboxRow.key)
                    .where(*where, InboxRow.message_id == message_id[:64])
                    .order_by(InboxRow.received_at, InboxRow.key)
                    .limit(1)
                )
            ).first()
            at, key = (mine[0], mine[1]) if mine is not None else (self._now(), "\uffff")
            earlier = (InboxRow.received_at < at) | ((InboxRow.received_at == at) & (InboxRow.key < key))
            count = await session.scalar(
                select(func.count())
                .select_from(InboxRow)
                .where(*where, InboxRow.message_id != message_id[:64], InboxRow.received_at >= since, earlier)
            )
        return int(count or 0)

    # --- helpers -------------------------------------------------------------------------

    def _insert(self, values: dict[str, Any]) -> Insert:
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(InboxRow).values(**values).on_conflict_do_nothing(index_elements=["key"])
        return sqlite.insert(InboxRow).values(**values).on_conflict_do_nothing(index_elements=["key"])

    def _take_over(self, key: str, now: datetime) -> Any:
        """Claim a pending event whose lease ran out (its process died or gave it up)."""
        return (
            update(InboxRow)
            .where(
                InboxRow.key == key,
                InboxRow.state == PENDING,
                InboxRow.lease_until < now,
                InboxRow.attempts < MAX_ATTEMPTS,
            )
            .values(owner=self.owner, lease_until=now + self._lease, attempts=InboxRow.attempts + 1)
        )

    async def _set(self, key: str, **values: Any) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(InboxRow).where(InboxRow.key == key[:200]).values(**values))
