"""SqlSafetyStore on a real SQLite file and on PostgreSQL, against the in-memory twin's contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.events import ChannelRef
from bot.safety.categories import Action, Category, Direction
from bot.safety.policy import PolicyConfig, Preset, Scope
from bot.safety.store import MemorySafetyStore, ModerationEvent, SafetyStore
from storage.database import create_engine, upgrade
from storage.safety_repo import SqlSafetyStore
from tests.conftest import DATABASES, empty_database

WHERE = ChannelRef("discord", "g1", "c1")


@pytest.fixture(params=[*DATABASES, "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SafetyStore]:
    if request.param == "memory":
        yield MemorySafetyStore()
        return
    async with empty_database(request.param, tmp_path) as url:
        engine = create_engine(url)
        await upgrade(engine)
        yield SqlSafetyStore(engine)
        await engine.dispose()


def event(ref: str, where: ChannelRef = WHERE, age: timedelta = timedelta(0)) -> ModerationEvent:
    return ModerationEvent(
        ref=ref,
        where=where,
        user_id="u1",
        direction=Direction.OUTPUT,
        action=Action.BLOCK,
        categories=(Category.SLUR_HATE, Category.PII),
        scores={Category.SLUR_HATE: 0.9, Category.PII: 1.0},
        rule_ids=("hate.group+dehumanise", "pii.email"),
        policy_version="3",
        excerpt="[email] is",
        stage="regenerate",
        created_at=datetime.now(UTC) - age,
    )


async def test_policy_roundtrip_bumps_version(store: SafetyStore) -> None:
    assert await store.get_policy(Scope.CHANNEL, "discord:g1:c1") is None
    config = PolicyConfig(
        Scope.CHANNEL,
        "discord:g1:c1",
        preset=Preset.STRICT,
        overrides=((Category.PROFANITY, Direction.OUTPUT, Action.CENSOR),),
        blocked_words=frozenset({"zork"}),
        allowed_words=frozenset({"scunthorpe"}),
        allowed_domains=frozenset({"example.org"}),
        log_content=True,
    )
    first = await store.put_policy(config, "mod1")
    assert first.version == 1 and first.updated_by == "mod1"
    second = await store.put_policy(config.with_override(Category.LINK, Direction.OUTPUT, Action.BLOCK), "mod2")
    assert second.version == 2
    loaded = await store.get_policy(Scope.CHANNEL, "discord:g1:c1")
    assert loaded == second
    assert await store.get_policy(Scope.WORKSPACE, "discord:g1") is None


async def test_events_newest_first_per_channel_with_threads(store: SafetyStore) -> None:
    await store.add_event(event("a1"))
    await store.add_event(event("b2", ChannelRef("discord", "g1", "c1", "thread7")))
    await store.add_event(event("c3", ChannelRef("discord", "g1", "other")))
    found = await store.recent_events(WHERE, 10)
    assert [e.ref for e in found] == ["b2", "a1"]
    original, loaded = event("a1"), found[1]
    for name in ("where", "user_id", "direction", "categories", "policy_version", "excerpt"):
        assert getattr(loaded, name) == getattr(original, name), name
    assert found[1].scores[Category.SLUR_HATE] == 0.9 and found[1].action is Action.BLOCK
    assert found[1].rule_ids == ("hate.group+dehumanise", "pii.email") and found[1].stage == "regenerate"
    assert len(await store.recent_events(WHERE, 1)) == 1


async def test_old_events_are_pruned(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await upgrade(engine)
    store = SqlSafetyStore(engine, retention_days=30)
    await store.add_event(event("old", age=timedelta(days=40)))
    for i in range(100):
        await store.add_event(event(f"new{i}"))
    refs = [e.ref for e in await store.recent_events(WHERE, 1000)]
    assert "old" not in refs and len(refs) == 100
    await engine.dispose()
