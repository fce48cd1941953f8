"""`SqlSafetyStore`: safety policies per scope and the moderation log, over SQLAlchemy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.events import ChannelRef
from bot.safety.categories import Action, Category, Direction
from bot.safety.policy import PolicyConfig, Preset, Scope
from bot.safety.store import ModerationEvent
from storage.database import session_factory
from storage.models import ModerationEventRow, SafetyPolicyRow
from storage.repository import utc

__all__ = ["SqlSafetyStore"]

_PRUNE_EVERY = 100  # events between retention sweeps


class SqlSafetyStore:
    def __init__(self, engine: AsyncEngine, *, retention_days: int = 30) -> None:
        self._sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        self._keep = timedelta(days=retention_days) if retention_days else None
        self._since_prune = 0

    async def get_policy(self, scope: Scope, key: str) -> PolicyConfig | None:
        return (await self.get_policies([(scope, key)]))[0]

    async def get_policies(self, keys: Sequence[tuple[Scope, str]]) -> list[PolicyConfig | None]:
        wanted = [(scope.value, key) for scope, key in keys]
        async with self._sessions() as session:
            rows = await session.scalars(
                select(SafetyPolicyRow).where(tuple_(SafetyPolicyRow.scope, SafetyPolicyRow.key).in_(wanted))
            )
            found = {(row.scope, row.key): _policy(row) for row in rows}
        return [found.get(key) for key in wanted]

    async def put_policy(self, config: PolicyConfig, actor_id: str) -> PolicyConfig:
        async with self._sessions.begin() as session:
            row = await session.get(SafetyPolicyRow, (config.scope.value, config.key), with_for_update=True)
            version = (row.version if row is not None else 0) + 1
            stored = replace(config, version=version, updated_by=actor_id)
            values = _policy_values(stored)
            if row is None:
                session.add(SafetyPolicyRow(scope=config.scope.value, key=config.key, **values))
            else:
                for name, value in values.items():
                    setattr(row, name, value)
            return stored

    async def add_event(self, event: ModerationEvent) -> None:
        async with self._sessions.begin() as session:
            session.add(
                ModerationEventRow(
                    ref=event.ref,
                    created_at=event.created_at,
                    platform=event.where.platform,
                    workspace=event.where.workspace,
                    channel=event.where.channel,
                    thread=event.where.thread,
                    user_id=event.user_id,
                    direction=event.direction.value,
                    action=event.action.name.lower(),
                    stage=event.stage,
                    categories=[c.value for c in event.categories],
                    scores={c.value: round(float(s), 4) for c, s in event.scores.items()},
                    rule_ids=list(event.rule_ids),
                    policy_version=event.policy_version,
                    excerpt=event.excerpt,
                )
            )
            self._since_prune += 1
            if self._keep is not None and self._since_prune >= _PRUNE_EVERY:
                self._since_prune = 0
                cutoff = datetime.now(UTC) - self._keep
                await session.execute(delete(ModerationEventRow).where(ModerationEventRow.created_at < cutoff))

    async def recent_events(self, where: ChannelRef, limit: int) -> list[ModerationEvent]:
        query = (
            select(ModerationEventRow)
            .where(
                ModerationEventRow.platform == where.platform,
                ModerationEventRow.workspace == where.workspace,
                ModerationEventRow.channel == where.channel,
            )
            .order_by(ModerationEventRow.id.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            return [_event(row) for row in await session.scalars(query)]


def _policy_values(config: PolicyConfig) -> dict[str, object]:
    return {
        "preset": config.preset.value if config.preset is not None else None,
        "overrides": [[c.value, d.value, a.name.lower()] for c, d, a in config.overrides],
        "blocked_words": sorted(config.blocked_words),
        "allowed_words": sorted(config.allowed_words),
        "allowed_domains": sorted(config.allowed_domains),
        "log_content": config.log_content,
        "version": config.version,
        "updated_by": config.updated_by,
        "updated_at": datetime.now(UTC),
    }


def _policy(row: SafetyPolicyRow) -> PolicyConfig:
    return PolicyConfig(
        scope=Scope(row.scope),
        key=row.key,
        preset=Preset(row.preset) if row.preset is not None else None,
        overrides=tuple((Category(c), Direction(d), Action[a.upper()]) for c, d, a in row.overrides),
        blocked_words=frozenset(row.blocked_words),
        allowed_words=frozenset(row.allowed_words),
        allowed_domains=frozenset(row.allowed_domains),
        log_content=row.log_content,
        version=row.version,
        updated_by=row.updated_by,
    )


def _event(row: ModerationEventRow) -> ModerationEvent:
    return ModerationEvent(
        ref=row.ref,
        where=ChannelRef(row.platform, row.workspace, row.channel, row.thread),
        user_id=row.user_id,
        direction=Direction(row.direction),
        action=Action[row.action.upper()],
        categories=tuple(Category(c) for c in row.categories),
        scores={Category(c): float(s) for c, s in row.scores.items()},
        rule_ids=tuple(row.rule_ids),
        policy_version=row.policy_version,
        excerpt=row.excerpt,
        stage=row.stage,
        created_at=utc(row.created_at),
    )
