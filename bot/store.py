"""The storage interface the core depends on, and the records that cross it.

`storage.repository.SqlStore` implements it over SQLAlchemy (SQLite or PostgreSQL);
`storage.memory.MemoryStore` is the in-memory twin for tests. Settings and the
auto-reply switch belong to a channel (threads inherit them from their parent);
history belongs to the conversation itself, so a thread keeps its own.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.events import Author, ChannelRef

__all__ = [
    "AuditEntry",
    "ChannelState",
    "Role",
    "Store",
    "StoredMessage",
]


class Role(enum.Enum):
    USER = "user"
    BOT = "bot"


@dataclass(frozen=True)
class StoredMessage:
    author_id: str
    author_name: str
    role: Role
    text: str
    created_at: datetime
    message_id: str = ""  # platform message id


@dataclass(frozen=True)
class AuditEntry:
    channel_key: str
    actor_id: str
    actor_name: str
    action: str  # "set", "unset", "enable", "disable", "reset", ...
    key: str
    old_value: str | None
    new_value: str | None
    created_at: datetime


@dataclass(frozen=True)
class ChannelState:
    enabled: bool = False  # auto-reply to every message, not only mentions and DMs
    overrides: Mapping[str, str] = field(default_factory=dict)  # setting key -> raw value


class Store(Protocol):
    async def channel_state(self, where: ChannelRef) -> ChannelState:
        """Settings and switch of the channel (a thread's parent channel)."""
        ...

    async def set_enabled(self, where: ChannelRef, enabled: bool, actor: Author) -> bool:
        """Switch auto-reply; writes an audit row; returns the previous value."""
        ...

    async def set_setting(self, where: ChannelRef, key: str, value: str | None, actor: Author) -> str | None:
        """Set (or, with None, remove) an override; writes an audit row; returns the old value."""
        ...

    async def add_message(self, where: ChannelRef, message: StoredMessage) -> bool:
        """Append a turn, committed before returning; applies retention. A turn whose
        non-empty `message_id` this conversation already holds is not added again (an event
        handled a second time after a restart): returns False then."""
        ...

    async def edit_message(self, where: ChannelRef, message_id: str, text: str) -> int:
        """Replace the text of the turn(s) with this platform id in `where`'s channel and its
        threads; returns how many changed."""
        ...

    async def delete_message(self, where: ChannelRef, message_id: str) -> int:
        """Remove the turn(s) with this platform id in `where`'s channel and its threads;
        returns how many were removed."""
        ...

    async def note_trimmed(self, where: ChannelRef) -> bool:
        """True the first time this conversation's history no longer fits the window (since
        its last reset): the moment to tell people."""
        ...

    async def recent_messages(self, where: ChannelRef, limit: int) -> list[StoredMessage]:
        """The newest `limit` turns of this conversation, oldest first."""
        ...

    async def count_messages(self, where: ChannelRef) -> int: ...

    async def clear_messages(self, where: ChannelRef, actor: Author) -> int:
        """Forget this conversation's turns; writes an audit row; returns how many."""
        ...

    async def audit_log(self, where: ChannelRef, limit: int) -> list[AuditEntry]:
        """The newest audit rows of the channel, newest first."""
        ...

    async def close(self) -> None: ...
