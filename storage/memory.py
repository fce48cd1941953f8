"""`MemoryStore`: the in-memory twin of `SqlStore`, same behaviour, nothing persisted."""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import UTC, datetime, timedelta

from bot.events import Author, ChannelRef
from bot.store import AuditEntry, ChannelState, StoredMessage

__all__ = ["MemoryStore"]


class MemoryStore:
    def __init__(self, *, max_messages: int = 500, max_age_days: int = 30, seen_events_hours: int = 24) -> None:
        self._max_age = timedelta(days=max_age_days) if max_age_days else None
        self._seen_for = timedelta(hours=seen_events_hours)
        self._enabled: dict[ChannelRef, bool] = {}
        self._settings: dict[ChannelRef, dict[str, str]] = defaultdict(dict)
        self._messages: dict[ChannelRef, deque[StoredMessage]] = defaultdict(lambda: deque(maxlen=max_messages))
        self._audit: dict[ChannelRef, list[AuditEntry]] = defaultdict(list)
        self._seen: dict[str, datetime] = {}

    async def channel_state(self, where: ChannelRef) -> ChannelState:
        parent = where.parent
        return ChannelState(enabled=self._enabled.get(parent, False), overrides=dict(self._settings.get(parent, {})))

    async def set_enabled(self, where: ChannelRef, enabled: bool, actor: Author) -> bool:
        old = self._enabled.get(where.parent, False)
        self._enabled[where.parent] = enabled
        self._log(where, actor, "enable" if enabled else "disable", "enabled", str(old).lower(), str(enabled).lower())
        return old

    async def set_setting(self, where: ChannelRef, key: str, value: str | None, actor: Author) -> str | None:
        settings = self._settings[where.parent]
        old = settings.get(key)
        if value is None:
            settings.pop(key, None)
        else:
            settings[key] = value
        self._log(where, actor, "unset" if value is None else "set", key, old, value)
        return old

    async def add_message(self, where: ChannelRef, message: StoredMessage) -> None:
        turns = self._messages[where]
        turns.append(message)
        if self._max_age is not None:
            oldest = datetime.now(UTC) - self._max_age
            while turns and turns[0].created_at < oldest:
                turns.popleft()

    async def recent_messages(self, where: ChannelRef, limit: int) -> list[StoredMessage]:
        turns = list(self._messages.get(where, ()))
        return turns[-limit:] if limit > 0 else []

    async def count_messages(self, where: ChannelRef) -> int:
        return len(self._messages.get(where, ()))

    async def clear_messages(self, where: ChannelRef, actor: Author) -> int:
        removed = len(self._messages.pop(where, ()))
        self._log(where, actor, "reset", "history", str(removed), "0")
        return removed

    async def audit_log(self, where: ChannelRef, limit: int) -> list[AuditEntry]:
        return list(reversed(self._audit.get(where.parent, [])))[:limit]

    async def first_time(self, event_key: str) -> bool:
        now = datetime.now(UTC)
        self._seen = {k: t for k, t in self._seen.items() if t >= now - self._seen_for}
        if event_key in self._seen:
            return False
        self._seen[event_key] = now
        return True

    async def close(self) -> None:
        return None

    def _log(self, where: ChannelRef, actor: Author, action: str, key: str, old: str | None, new: str | None) -> None:
        entry = AuditEntry(where.key, actor.id, actor.name, action, key, old, new, datetime.now(UTC))
        self._audit[where.parent].append(entry)
