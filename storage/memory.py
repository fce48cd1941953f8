"""In-memory twins of `SqlStore` and `SqlInbox`: same behaviour, nothing persisted."""

from __future__ import annotations

import secrets
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.events import Author, ChannelRef
from bot.inbox import MAX_ATTEMPTS, Claim, Delivery
from bot.store import AuditEntry, ChannelState, StoredMessage

__all__ = ["MemoryInbox", "MemoryStore"]


class MemoryStore:
    def __init__(self, *, max_messages: int = 500, max_age_days: int = 30) -> None:
        self._max_age = timedelta(days=max_age_days) if max_age_days else None
        self._trim_noticed: set[ChannelRef] = set()
        self._enabled: dict[ChannelRef, bool] = {}
        self._settings: dict[ChannelRef, dict[str, str]] = defaultdict(dict)
        self._messages: dict[ChannelRef, deque[StoredMessage]] = defaultdict(lambda: deque(maxlen=max_messages))
        self._audit: dict[ChannelRef, list[AuditEntry]] = defaultdict(list)

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

    async def add_message(self, where: ChannelRef, message: StoredMessage) -> bool:
        turns = self._messages[where]
        if message.message_id and any(t.message_id == message.message_id for t in turns):
            return False
        turns.append(message)
        if self._max_age is not None:
            oldest = datetime.now(UTC) - self._max_age
            while turns and turns[0].created_at < oldest:
                turns.popleft()
        return True

    async def edit_message(self, where: ChannelRef, message_id: str, text: str) -> int:
        return self._rewrite(where, message_id, lambda turn: [replace(turn, text=text)])

    async def delete_message(self, where: ChannelRef, message_id: str) -> int:
        return self._rewrite(where, message_id, lambda turn: [])

    async def note_trimmed(self, where: ChannelRef) -> bool:
        first = where not in self._trim_noticed
        self._trim_noticed.add(where)
        return first

    async def recent_messages(self, where: ChannelRef, limit: int) -> list[StoredMessage]:
        turns = list(self._messages.get(where, ()))
        return turns[-limit:] if limit > 0 else []

    async def count_messages(self, where: ChannelRef) -> int:
        return len(self._messages.get(where, ()))

    async def clear_messages(self, where: ChannelRef, actor: Author) -> int:
        removed = len(self._messages.pop(where, ()))
        self._trim_noticed.discard(where)
        self._log(where, actor, "reset", "history", str(removed), "0")
        return removed

    async def audit_log(self, where: ChannelRef, limit: int) -> list[AuditEntry]:
        return list(reversed(self._audit.get(where.parent, [])))[:limit]

    async def close(self) -> None:
        return None

    def _rewrite(
        self, where: ChannelRef, message_id: str, change: Callable[[StoredMessage], list[StoredMessage]]
    ) -> int:
        """Apply `change` to the turns with `message_id` in `where`'s channel and its threads."""
        if not message_id:
            return 0
        changed = 0
        for ref, turns in self._messages.items():
            if ref.parent != where.parent:
                continue
            kept: list[StoredMessage] = []
            for turn in turns:
                if turn.message_id == message_id:
                    changed += 1
                    kept += change(turn)
                else:
                    kept.append(turn)
            turns.clear()
            turns.extend(kept)
        return changed

    def _log(self, where: ChannelRef, actor: Author, action: str, key: str, old: str | None, new: str | None) -> None:
        entry = AuditEntry(where.key, actor.id, actor.name, action, key, old, new, datetime.now(UTC))
        self._audit[where.parent].append(entry)


@dataclass
class _Entry:
    platform: str
    route: Mapping[str, Any]
    received_at: datetime
    state: str = "pending"
    owner: str = ""
    lease_until: datetime = field(default_factory=lambda: datetime.now(UTC))
    attempts: int = 1


class MemoryInbox:
    """`bot.inbox.Inbox` in a dict: one process, nothing survives it."""

    def __init__(
        self,
        *,
        lease: timedelta = timedelta(seconds=30),
        keep: timedelta = timedelta(hours=24),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._now = clock
        self._lease = lease
        self._keep = keep
        self.owner = secrets.token_hex(8)
        self.entries: dict[str, _Entry] = {}

    async def claim(self, key: str, platform: str, route: Mapping[str, Any]) -> Claim:
        now = self._now()
        entry = self.entries.get(key)
        if entry is None:
            self.entries[key] = _Entry(platform, dict(route), now, owner=self.owner, lease_until=now + self._lease)
            return Claim.NEW
        return Claim.RETRY if self._take_over(entry, now) else Claim.DUPLICATE

    async def done(self, key: str) -> None:
        if key in self.entries:
            self.entries[key].state = "done"

    async def release(self, key: str) -> None:
        entry = self.entries.get(key)
        if entry is not None and entry.owner == self.owner and entry.state == "pending":
            entry.lease_until = self._now() - timedelta(seconds=1)

    async def orphans(self, platform: str, max_age: timedelta, limit: int) -> list[Delivery]:
        now = self._now()
        found: list[Delivery] = []
        for key, entry in sorted(self.entries.items(), key=lambda item: item[1].received_at):
            if entry.platform != platform or entry.state != "pending" or entry.lease_until >= now:
                continue
            if entry.received_at < now - max_age or entry.attempts >= MAX_ATTEMPTS:
                entry.state = "dropped"
            elif len(found) < limit and self._take_over(entry, now):
                found.append(Delivery(key, platform, entry.route, entry.received_at, entry.attempts))
        return found

    async def renew(self) -> None:
        now = self._now()
        for key, entry in list(self.entries.items()):
            if entry.owner == self.owner and entry.state == "pending":
                entry.lease_until = now + self._lease
            elif entry.state != "pending" and entry.received_at < now - self._keep:
                del self.entries[key]

    def _take_over(self, entry: _Entry, now: datetime) -> bool:
        if entry.state != "pending" or entry.lease_until >= now or entry.attempts >= MAX_ATTEMPTS:
            return False
        entry.owner, entry.lease_until, entry.attempts = self.owner, now + self._lease, entry.attempts + 1
        return True
