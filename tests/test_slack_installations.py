"""Slack installs in many workspaces: migration 0006 makes exactly the tables slack_sdk's SQLAlchemy
stores define and those stores work on them; the adapter's install flow (Bolt's OAuth, against
the fake Web API's oauth.v2.access) saves each workspace's token, and each workspace is answered
with its own (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from unittest.mock import ANY

import aiohttp
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

from adapters.slack import SlackAdapter
from bot.config import Secrets, SlackSection
from storage.database import create_engine, upgrade
from storage.memory import MemoryInbox
from tests.fakes.slack_api import FakeSlackApi, Install
from tests.fakes.slack_requests import SlackSender, event_callback
from tests.fakes.slack_rig import QUICK_RETRIES, SIGNING_SECRET, ScriptedCore

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


# --- the install flow and the replies, through the real adapter against the fake Web API -------


@asynccontextmanager
async def installing_app(engine: AsyncEngine, core: ScriptedCore) -> AsyncIterator[tuple[FakeSlackApi, SlackAdapter]]:
    """The adapter in installs mode (no bot token of its own), and the fake Slack it talks to."""
    async with FakeSlackApi() as api:
        api.add_user("U1", "Alice")
        api.add_install("code-one", Install("T1", "xoxb-one", "UBOT1", "B1"))
        api.add_install("code-two", Install("T2", "xoxb-two", "UBOT2", "B2"))
        section = dataclasses.replace(SlackSection(), host="127.0.0.1", port=0, api_base_url=api.base_url)
        secrets = Secrets(
            slack_client_id=api.client_id, slack_client_secret=api.client_secret, slack_signing_secret=SIGNING_SECRET
        )
        adapter = SlackAdapter(section, secrets, core, MemoryInbox(), backoff=QUICK_RETRIES, installs=engine)
        await adapter.start()
        try:
            yield api, adapter
        finally:
            await adapter.stop()


async def install(session: aiohttp.ClientSession, base: str, code: str) -> tuple[int, str]:
    """What a person's browser does: open the install page, go to Slack, come back with `code`."""
    async with session.get(f"{base}/slack/install") as page:
        assert page.status == 200
        html = await page.text()
        cookie = page.headers["Set-Cookie"].split(";")[0]  # Bolt's state cookie (Secure: sent by hand)
    state = re.search(r"state=([\w-]+)", html)
    assert (
        state is not None
        and "https://slack.com/oauth/v2/authorize" in html
        and "scope=app_mentions:read,channels:history,chat:write," in html
    )
    back = f"{base}/slack/oauth_redirect?code={code}&state={state[1]}"
    async with session.get(back, headers={"Cookie": cookie}) as done:
        return done.status, await done.text()


async def test_two_workspaces_install_the_app_and_each_is_answered_with_its_own_token(engine: AsyncEngine) -> None:
    core = ScriptedCore()
    async with installing_app(engine, core) as (api, adapter), aiohttp.ClientSession() as browser:
        base = adapter.url.removesuffix("/slack/events")
        assert [await install(browser, base, code) for code in ("code-one", "code-two")] == [(200, ANY)] * 2
        exchanged = api.calls_to("oauth.v2.access")
        assert [c.body["code"] for c in exchanged] == ["code-one", "code-two"]
        assert all(c.body["client_secret"] == api.client_secret for c in exchanged)
        store = AsyncSQLAlchemyInstallationStore(api.client_id, engine)
        bot = await store.async_find_bot(enterprise_id=None, team_id="T2")
        assert bot is not None and (bot.bot_token, bot.bot_user_id, bot.bot_id) == ("xoxb-two", "UBOT2", "B2")

        sender = SlackSender(adapter.url, SIGNING_SECRET)
        try:
            for team, bot_user, ts in (("T2", "UBOT2", "1.0002"), ("T1", "UBOT1", "1.0001")):
                event = {"type": "app_mention", "user": "U1", "text": f"<@{bot_user}> hi", "channel": "C9", "ts": ts}
                assert (await sender.json(event_callback(event, team=team))).status == 200
            await api.wait_until(lambda: len([c for c in api.calls if _final(c)]) == 2, within_s=10)
        finally:
            await sender.close()
    assert [e.text for e in core.events] == ["hi", "hi"]  # each workspace's own bot mention was read
    posted = {c.body["thread_ts"]: c.token for c in api.calls_to("chat.postMessage")}
    assert posted == {"1.0002": "xoxb-two", "1.0001": "xoxb-one"}  # each thread answered with its workspace's token
    assert {c.token for c in api.calls if _final(c)} == {"xoxb-one", "xoxb-two"}


async def test_an_install_with_a_forged_state_or_a_used_code_is_refused(engine: AsyncEngine) -> None:
    async with installing_app(engine, ScriptedCore()) as (api, adapter), aiohttp.ClientSession() as browser:
        base = adapter.url.removesuffix("/slack/events")
        async with browser.get(f"{base}/slack/oauth_redirect?code=code-one&state=made-up") as forged:
            assert forged.status == 400  # no state cookie: not the browser that started the install
        assert await install(browser, base, "code-one") == (200, ANY)
        status, _ = await install(browser, base, "code-one")  # Slack's codes work once
        assert status == 401
        assert api.calls_to("oauth.v2.access")[-1].body["code"] == "code-one"


async def test_an_event_from_a_workspace_that_never_installed_the_app_is_not_answered(engine: AsyncEngine) -> None:
    core = ScriptedCore()
    async with installing_app(engine, core) as (api, adapter):
        sender = SlackSender(adapter.url, SIGNING_SECRET)
        try:
            event = {"type": "app_mention", "user": "U1", "text": "<@UBOT9> hi", "channel": "C9", "ts": "1.0009"}
            await sender.json(event_callback(event, team="T9"))
        finally:
            await sender.close()
        await api.settle(0.5)
    assert core.events == [] and api.calls_to("chat.postMessage") == []


def _final(call: Any) -> bool:
    """A complete reply: a post or update carrying the reply's `done` metadata."""
    metadata = call.body.get("metadata")
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return call.method in ("chat.postMessage", "chat.update") and bool(
        isinstance(metadata, dict) and (metadata.get("event_payload") or {}).get("done")
    )
