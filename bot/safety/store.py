"""Where safety state lives: policies per scope (with word lists and link allowlists) and
the moderation log. `SafetyStore` is the async interface; `MemorySafetyStore` is its
in-memory twin for tests and for running without a database.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from bot.events import ChannelRef
from bot.safety.categories import Action, Category, Direction
from bot.safety.policy import PolicyConfig, Scope

__all__ = ["MemorySafetyStore", "ModerationEvent", "SafetyStore", "scope_keys"]

MAX_MEMORY_EVENTS = 10_000


def scope_keys(where: ChannelRef) -> list[tuple[Scope, str]]:
    """global → workspace → channel (a thread shares its channel's policy)."""
    keys = [(Scope.GLOBAL, "")]
    if where.workspace:
        keys.append((Scope.WORKSPACE, f"{where.platform}:{where.workspace}"))
    keys.append((Scope.CHANNEL, f"{where.platform}:{where.workspace or '-'}:{where.channel}"))
    return keys


@dataclass(frozen=True)
class ModerationEvent:
    """One row of the moderation log; `excerpt` is PII-redacted and empty unless allowed."""

    ref: str
    where: ChannelRef
    user_id: str
    direction: Direction
    action: Action
    categories: tuple[Category, ...]
    scores: Mapping[Category, float]
    rule_ids: tuple[str, ...]
    policy_version: str
    excerpt: str = ""
    # input, or a reply's first output check: "check"; a regenerated reply that passed: "retry";
    # a blocked reply that is regenerated: "regenerate"; the last one, replaced by the canned reply: "fallback"
    stage: str = "check"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class SafetyStore(Protocol):
    async def get_policy(self, scope: Scope, key: str) -> PolicyConfig | None: ...

    async def get_policies(self, keys: Sequence[tuple[Scope, str]]) -> list[PolicyConfig | None]:
        """The policies of several scopes, in order, read together (one database session)."""
        ...

    async def put_policy(self, config: PolicyConfig, actor_id: str) -> PolicyConfig:
        """Store a scope's policy, bumping its version; returns what was stored."""
        ...

    async def add_event(self, event: ModerationEvent) -> None: ...

    async def recent_events(self, where: ChannelRef, limit: int) -> list[ModerationEvent]:
        """Newest first, for this channel (and its threads)."""
        ...


class MemorySafetyStore:
    def __init__(self) -> None:
        self._policies: dict[tuple[Scope, str], PolicyConfig] = {}
        self._events: deque[ModerationEvent] = deque(maxlen=MAX_MEMORY_EVENTS)
        self._lock = asyncio.Lock()

    async def get_policy(self, scope: Scope, key: str) -> PolicyConfig | None:
        return self._policies.get((scope, key))

    async def get_policies(self, keys: Sequence[tuple[Scope, str]]) -> list[PolicyConfig | None]:
        return [self._policies.get(key) for key in keys]

    async def put_policy(self, config: PolicyConfig, actor_id: str) -> PolicyConfig:
        async with self._lock:
            old = self._policies.get((config.scope, config.key))
            stored = replace(config, version=(old.version if old else 0) + 1, updated_by=actor_id)
            self._policies[(config.scope, config.key)] = stored
            return stored

    async def add_event(self, event: ModerationEvent) -> None:
        self._events.append(event)

    async def recent_events(self, where: ChannelRef, limit: int) -> list[ModerationEvent]:
        parent = where.parent
        found = [e for e in reversed(self._events) if e.where.parent == parent]
        return found[:limit]
