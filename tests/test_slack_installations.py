"""Slack installations on our database: migration 0006 makes exactly the tables slack_sdk's
SQLAlchemy stores define, and those stores work on them (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import (
    AsyncSQLAlchemyInstallationStore,
    SQLAlchemyInstallationStore,
)
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore, SQLAlchemyOAuthStateStore
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.database import create_engine, upgrade

CLIENT_ID = "111.222"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


def slack_sdk_tables() -> list[sa.Table]:
    metadata = sa.MetaData()
    return [
        SQLAlchemyInstallationStore.build_installations_table(metadata, "slack_installations"),
        SQLAlchemyInstallationStore.build_bots_table(metadata, "slack_bots"),
        SQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, "slack_oauth_states"),
    ]


FAMILIES = (sa.Boolean, sa.DateTime, sa.Integer, sa.String)


def describe(name: str, kind: Any, nullable: Any) -> tuple[str, str, int | None, bool, bool]:
    """What matters of a column, the same for a reflected one and a declared one."""
    family = next(f.__name__ for f in FAMILIES if isinstance(kind, f))
    return name, family, getattr(kind, "length", None), bool(nullable), bool(getattr(kind, "timezone", False))


async def test_the_migration_makes_slack_sdks_own_tables(engine: AsyncEngine) -> None:
    def reflect(connection: Connection) -> dict[str, tuple[list[Any], list[Any]]]:
        inspector = sa.inspect(connection)
        return {
            table.name: (inspector.get_columns(table.name), inspector.get_indexes(table.name))
            for table in slack_sdk_tables()
        }

    async with engine.connect() as connection:
        ours = await connection.run_sync(reflect)
    for table in slack_sdk_tables():
        columns, indexes = ours[table.name]
        reflected = [describe(c["name"], c["type"], c["nullable"]) for c in columns]
        assert reflected == [describe(c.name, c.type, c.nullable) for c in table.columns], table.name
        expected = {index.name: [c.name for c in index.columns] for index in table.indexes}
        assert {index["name"]: index["column_names"] for index in indexes} == expected, table.name


def installation(team: str, token: str) -> Installation:
    return Installation(
        app_id="A1",
        enterprise_id=None,
        team_id=team,
        team_name=f"team {team}",
        bot_token=token,
        bot_id=f"B{team}",
        bot_user_id=f"U{team}",
        bot_scopes="app_mentions:read,chat:write",
        user_id="U_installer",
    )


async def test_slack_sdks_stores_work_on_our_tables(engine: AsyncEngine) -> None:
    installations = AsyncSQLAlchemyInstallationStore(CLIENT_ID, engine)
    await installations.async_save(installation("T1", "xoxb-one"))
    await installations.async_save(installation("T2", "xoxb-two"))
    first, second = [await installations.async_find_bot(enterprise_id=None, team_id=t) for t in ("T1", "T2")]
    assert first is not None and first.bot_token == "xoxb-one" and first.bot_user_id == "UT1"
    assert second is not None and second.bot_token == "xoxb-two"
    assert await installations.async_find_bot(enterprise_id=None, team_id="T3") is None
    states = AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600, engine=engine)
    state = await states.async_issue()
    assert await states.async_consume(state) is True
    assert await states.async_consume(state) is False  # a state is good for one install
