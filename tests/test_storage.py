"""SqlStore on a real SQLite file and on PostgreSQL, and MemoryStore, through one contract."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, text

from bot.events import Author, ChannelRef
from bot.store import Role, Store, StoredMessage
from storage.database import POOL_SIZE, SchemaOutdated, check_schema, create_engine, upgrade
from storage.memory import MemoryStore
from storage.repository import SqlStore
from tests.conftest import DATABASES, empty_database

MOD = Author("u1", "Mod", is_moderator=True)
CHAN = ChannelRef("discord", "g1", "c1")
THREAD = ChannelRef("discord", "g1", "c1", "t9")


def turn(text: str, role: Role = Role.USER, age: timedelta = timedelta(0)) -> StoredMessage:
    return StoredMessage("u2", "Ann", role, text, datetime.now(UTC) - age)


@pytest.fixture(params=[*DATABASES, "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore(max_messages=5)
        return
    async with empty_database(request.param, tmp_path) as url:
        engine = create_engine(url)
        await upgrade(engine)
        sql = SqlStore(engine, max_messages=5)
        yield sql
        await sql.close()


async def test_settings_roundtrip_and_audit(store: Store) -> None:
    assert (await store.channel_state(CHAN)).overrides == {}
    assert await store.set_setting(CHAN, "temperature", "0.5", MOD) is None
    assert await store.set_setting(CHAN, "temperature", "0.7", MOD) == "0.5"
    assert (await store.channel_state(CHAN)).overrides == {"temperature": "0.7"}
    assert await store.set_setting(CHAN, "temperature", None, MOD) == "0.7"
    assert (await store.channel_state(CHAN)).overrides == {}
    log = await store.audit_log(CHAN, 10)
    assert [(e.action, e.key, e.old_value, e.new_value) for e in log] == [
        ("unset", "temperature", "0.7", None),
        ("set", "temperature", "0.5", "0.7"),
        ("set", "temperature", None, "0.5"),
    ]
    assert all(e.actor_id == "u1" for e in log)


async def test_thread_inherits_settings_but_keeps_own_history(store: Store) -> None:
    await store.set_enabled(CHAN, True, MOD)
    await store.set_setting(THREAD, "top_k", "5", MOD)  # a command in a thread sets its channel
    state = await store.channel_state(THREAD)
    assert state.enabled and state.overrides == {"top_k": "5"}
    await store.add_message(CHAN, turn("in channel"))
    await store.add_message(THREAD, turn("in thread"))
    assert [m.text for m in await store.recent_messages(CHAN, 10)] == ["in channel"]
    assert [m.text for m in await store.recent_messages(THREAD, 10)] == ["in thread"]


async def test_history_order_limit_retention_and_reset(store: Store) -> None:
    for i in range(8):
        await store.add_message(CHAN, turn(f"m{i}", Role.BOT if i % 2 else Role.USER))
    assert await store.count_messages(CHAN) == 5  # retention keeps the newest 5
    recent = await store.recent_messages(CHAN, 3)
    assert [m.text for m in recent] == ["m5", "m6", "m7"]
    assert [m.role for m in recent] == [Role.BOT, Role.USER, Role.BOT]
    assert recent[0].created_at.tzinfo is not None
    assert await store.clear_messages(CHAN, MOD) == 5
    assert await store.recent_messages(CHAN, 10) == []
    assert (await store.audit_log(CHAN, 1))[0].action == "reset"


async def test_age_retention(store: Store) -> None:
    await store.add_message(CHAN, turn("ancient", age=timedelta(days=400)))
    await store.add_message(CHAN, turn("fresh"))
    assert [m.text for m in await store.recent_messages(CHAN, 10)] == ["fresh"]


async def test_a_turn_handled_twice_is_stored_once(store: Store) -> None:
    said = dataclasses.replace(turn("once"), message_id="m1")
    assert await store.add_message(THREAD, said)
    assert not await store.add_message(THREAD, said)  # the same event, answered after a restart
    assert await store.add_message(CHAN, said)  # another conversation may hold the same id
    assert await store.add_message(THREAD, turn("no id, no dedupe")) and await store.add_message(THREAD, turn("x"))
    assert await store.count_messages(THREAD) == 3


async def test_edits_and_deletions_reach_the_turn_in_any_thread_of_the_channel(store: Store) -> None:
    await store.add_message(THREAD, dataclasses.replace(turn("typo hre"), message_id="m1"))
    await store.add_message(THREAD, dataclasses.replace(turn("abuse"), message_id="m2"))
    await store.add_message(ChannelRef("discord", "g1", "other"), dataclasses.replace(turn("keep"), message_id="m2"))
    assert await store.edit_message(CHAN, "m1", "typo here") == 1
    assert await store.delete_message(CHAN, "m2") == 1
    assert await store.delete_message(CHAN, "unknown") == 0 and await store.edit_message(CHAN, "", "x") == 0
    assert [m.text for m in await store.recent_messages(THREAD, 10)] == ["typo here"]
    assert [m.text for m in await store.recent_messages(ChannelRef("discord", "g1", "other"), 10)] == ["keep"]


async def test_the_trim_notice_is_due_once_per_history(store: Store) -> None:
    assert await store.note_trimmed(THREAD)
    assert not await store.note_trimmed(THREAD)
    assert await store.note_trimmed(CHAN)  # each conversation on its own
    await store.clear_messages(THREAD, MOD)
    assert await store.note_trimmed(THREAD)  # a fresh history, told again when it overflows


async def test_concurrent_sets_of_one_new_key_both_succeed(store: Store) -> None:
    results = await asyncio.gather(
        *(store.set_setting(CHAN, "temperature", str(v), MOD) for v in (0.5, 0.7, 0.9)), return_exceptions=True
    )
    assert not [r for r in results if isinstance(r, BaseException)]
    assert (await store.channel_state(CHAN)).overrides["temperature"] in {"0.5", "0.7", "0.9"}
    assert len(await store.audit_log(CHAN, 10)) == 3


async def test_history_survives_a_restart(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)
    first = SqlStore(engine)
    await first.add_message(CHAN, turn("remember me"))
    await first.set_enabled(CHAN, True, MOD)
    await first.close()
    engine = create_engine(database_url)
    second = SqlStore(engine)
    assert [m.text for m in await second.recent_messages(CHAN, 10)] == ["remember me"]
    assert (await second.channel_state(CHAN)).enabled
    await second.close()


async def test_schema_check_and_sqlite_pragmas(database_url: str) -> None:
    engine = create_engine(database_url)
    with pytest.raises(SchemaOutdated):
        await check_schema(engine)
    await upgrade(engine)
    await check_schema(engine)
    if engine.dialect.name == "sqlite":
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    await engine.dispose()


async def test_a_burst_of_writes_reuses_the_pool_instead_of_opening_connections(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await upgrade(engine)
    opened: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda conn, record: opened.append(conn))
    store = SqlStore(engine)
    for _ in range(3):  # 60 conversations at once, three times over: each aiosqlite connection is a thread
        await asyncio.gather(*(store.add_message(ChannelRef("slack", "T", f"C{n}"), turn("hi")) for n in range(60)))
    assert len(opened) <= POOL_SIZE
    await store.close()
