"""`SqlStore`: the core's `Store` over SQLAlchemy 2 async (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.events import Author, ChannelRef
from bot.store import AuditEntry, ChannelState, Role, StoredMessage
from storage.database import session_factory
from storage.models import AuditRow, ChannelRow, MessageRow, SettingRow

__all__ = ["SqlStore", "utc"]

_CHANNEL_CACHE = 10_000


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class SqlStore:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_messages: int = 500,
        max_age_days: int = 30,
    ) -> None:
        self.engine = engine
        self._sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        self._max_messages = max_messages
        self._max_age = timedelta(days=max_age_days) if max_age_days else None
        self._dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._channel_ids: OrderedDict[ChannelRef, int] = OrderedDict()

    # --- channels and settings -------------------------------------------------------

    async def channel_state(self, where: ChannelRef) -> ChannelState:
        async with self._sessions() as session:
            row = await self._channel_row(session, where.parent, create=False)
            if row is None:
                return ChannelState()
            settings = await session.scalars(select(SettingRow).where(SettingRow.channel_id == row.id))
            return ChannelState(enabled=row.enabled, overrides={s.key: s.value for s in settings})

    async def set_enabled(self, where: ChannelRef, enabled: bool, actor: Author) -> bool:
        async with self._sessions.begin() as session:
            row = await self._channel_row(session, where.parent, create=True)
            assert row is not None
            old = row.enabled
            row.enabled = enabled
            action = "enable" if enabled else "disable"
            session.add(_audit(row.id, where, actor, action, "enabled", str(old).lower(), str(enabled).lower()))
            return old

    async def set_setting(self, where: ChannelRef, key: str, value: str | None, actor: Author) -> str | None:
        async with self._sessions.begin() as session:
            row = await self._channel_row(session, where.parent, create=True)
            assert row is not None
            old = await session.scalar(
                select(SettingRow.value).where(SettingRow.channel_id == row.id, SettingRow.key == key)
            )
            if value is None:
                await session.execute(delete(SettingRow).where(SettingRow.channel_id == row.id, SettingRow.key == key))
            else:  # an upsert: two moderators setting the same new key at once both succeed
                values = {"channel_id": row.id, "key": key, "value": value, "updated_by": actor.id}
                insert = self._dialect.insert(SettingRow).values(**values, updated_at=_now())
                await session.execute(
                    insert.on_conflict_do_update(
                        index_elements=["channel_id", "key"],
                        set_={"value": value, "updated_by": actor.id, "updated_at": _now()},
                    )
                )
            action = "unset" if value is None else "set"
            session.add(_audit(row.id, where, actor, action, key, old, value))
            return old

    # --- conversation history ----------------------------------------------------------

    async def add_message(self, where: ChannelRef, message: StoredMessage) -> bool:
        async with self._sessions.begin() as session:
            row = await self._channel_row(session, where, create=True)
            assert row is not None
            if message.message_id and await session.scalar(
                select(MessageRow.id).where(
                    MessageRow.channel_id == row.id, MessageRow.platform_message_id == message.message_id
                )
            ):
                return False
            session.add(
                MessageRow(
                    channel_id=row.id,
                    author_id=message.author_id,
                    author_name=message.author_name,
                    role=message.role.value,
                    text=message.text,
                    created_at=message.created_at,
                    platform_message_id=message.message_id,
                )
            )
            await session.flush()
            await self._apply_retention(session, row.id)
            return True

    async def edit_message(self, where: ChannelRef, message_id: str, text: str) -> int:
        if not message_id:
            return 0
        async with self._sessions.begin() as session:
            result: Any = await session.execute(
                update(MessageRow)
                .where(
                    MessageRow.channel_id.in_(self._channel_ids_of(where)), MessageRow.platform_message_id == message_id
                )
                .values(text=text)
            )
            return int(result.rowcount or 0)

    async def delete_message(self, where: ChannelRef, message_id: str) -> int:
        if not message_id:
            return 0
        async with self._sessions.begin() as session:
            result: Any = await session.execute(
                delete(MessageRow).where(
                    MessageRow.channel_id.in_(self._channel_ids_of(where)), MessageRow.platform_message_id == message_id
                )
            )
            return int(result.rowcount or 0)

    async def note_trimmed(self, where: ChannelRef) -> bool:
        async with self._sessions.begin() as session:
            row = await self._channel_row(session, where, create=True)
            assert row is not None
            result: Any = await session.execute(
                update(ChannelRow)
                .where(ChannelRow.id == row.id, ChannelRow.trim_noticed.is_(False))
                .values(trim_noticed=True)
            )
            return bool(result.rowcount)

    async def recent_messages(self, where: ChannelRef, limit: int) -> list[StoredMessage]:
        async with self._sessions() as session:
            row = await self._channel_row(session, where, create=False)
            if row is None:
                return []
            query = (
                select(MessageRow).where(MessageRow.channel_id == row.id).order_by(MessageRow.id.desc()).limit(limit)
            )
            rows = list(await session.scalars(query))
        return [_message(r) for r in reversed(rows)]

    async def count_messages(self, where: ChannelRef) -> int:
        async with self._sessions() as session:
            row = await self._channel_row(session, where, create=False)
            if row is None:
                return 0
            count = await session.scalar(select(func.count()).where(MessageRow.channel_id == row.id))
            return int(count or 0)

    async def clear_messages(self, where: ChannelRef, actor: Author) -> int:
        async with self._sessions.begin() as session:
            row = await self._channel_row(session, where, create=True)
            assert row is not None
            result: Any = await session.execute(delete(MessageRow).where(MessageRow.channel_id == row.id))
            removed = int(result.rowcount or 0)
            row.trim_noticed = False  # a fresh history: tell people again when it next overflows
            parent = await self._channel_row(session, where.parent, create=True)
            assert parent is not None
            session.add(_audit(parent.id, where, actor, "reset", "history", str(removed), "0"))
            return removed

    async def audit_log(self, where: ChannelRef, limit: int) -> list[AuditEntry]:
        async with self._sessions() as session:
            row = await self._channel_row(session, where.parent, create=False)
            if row is None:
                return []
            query = select(AuditRow).where(AuditRow.channel_id == row.id).order_by(AuditRow.id.desc()).limit(limit)
            return [_entry(r) for r in await session.scalars(query)]

    async def close(self) -> None:
        await self.engine.dispose()

    # --- helpers -------------------------------------------------------------------------

    async def _channel_row(self, session: AsyncSession, where: ChannelRef, *, create: bool) -> ChannelRow | None:
        cached = self._channel_ids.get(where)
        if cached is not None:
            self._channel_ids.move_to_end(where)
            return await session.get(ChannelRow, cached)
        query = select(ChannelRow).where(
            ChannelRow.platform == where.platform,
            ChannelRow.workspace == where.workspace,
            ChannelRow.channel == where.channel,
            ChannelRow.thread == where.thread,
        )
        row = await session.scalar(query)
        if row is None and create:
            row = await self._insert_channel(session, where)
            row = row or await session.scalar(query)
        if row is not None:
            self._remember(where, row.id)
        return row

    async def _insert_channel(self, session: AsyncSession, where: ChannelRef) -> ChannelRow | None:
        row = ChannelRow(
            platform=where.platform,
            workspace=where.workspace,
            channel=where.channel,
            thread=where.thread,
            enabled=False,
            created_at=_now(),
        )
        try:
            async with session.begin_nested():  # another process may create it at the same moment
                session.add(row)
                await session.flush()
        except IntegrityError:
            return None
        return row

    @staticmethod
    def _channel_ids_of(where: ChannelRef) -> Select[int]:
        """The conversations of `where`'s channel: the channel itself and its threads."""
        parent = where.parent
        return select(ChannelRow.id).where(
            ChannelRow.platform == parent.platform,
            ChannelRow.workspace == parent.workspace,
            ChannelRow.channel == parent.channel,
        )

    def _remember(self, where: ChannelRef, channel_id: int) -> None:
        self._channel_ids[where] = channel_id
        if len(self._channel_ids) > _CHANNEL_CACHE:
            self._channel_ids.popitem(last=False)

    async def _apply_retention(self, session: AsyncSession, channel_id: int) -> None:
        cutoff = await session.scalar(
            select(MessageRow.id)
            .where(MessageRow.channel_id == channel_id)
            .order_by(MessageRow.id.desc())
            .offset(self._max_messages)
            .limit(1)
        )
        if cutoff is not None:
            await session.execute(
                delete(MessageRow).where(MessageRow.channel_id == channel_id, MessageRow.id <= cutoff)
            )
        if self._max_age is not None:
            oldest = _now() - self._max_age
            await session.execute(
                delete(MessageRow).where(MessageRow.channel_id == channel_id, MessageRow.created_at < oldest)
            )


def _now() -> datetime:
    return datetime.now(UTC)


def _audit(
    channel_id: int, where: ChannelRef, actor: Author, action: str, key: str, old: str | None, new: str | None
) -> AuditRow:
    return AuditRow(
        channel_id=channel_id,
        channel_key=where.key,
        actor_id=actor.id,
        actor_name=actor.name[:100],
        action=action,
        key=key,
        old_value=old,
        new_value=new,
        created_at=_now(),
    )


def _message(row: MessageRow) -> StoredMessage:
    return StoredMessage(
        author_id=row.author_id,
        author_name=row.author_name,
        role=Role(row.role),
        text=row.text,
        created_at=utc(row.created_at),
        message_id=row.platform_message_id,
    )


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        channel_key=row.channel_key,
        actor_id=row.actor_id,
        actor_name=row.actor_name,
        action=row.action,
        key=row.key,
        old_value=row.old_value,
        new_value=row.new_value,
        created_at=utc(row.created_at),
    )
