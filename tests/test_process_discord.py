"""The real bot process (`python -m bot --config C run`) on Discord: SIGTERM and kill -9 mid-reply.

The bot runs the demo model against the fake Discord (REST + gateway) in this test's
event loop, with its database in `tmp_path` (or a fresh PostgreSQL database). A message
counts as answered when exactly one message of the bot's replies to it and it is neither
a half preview (" …") nor a restarting note. Every start costs ~10 s on two cores, so the
SQLite test chains three runs (SIGTERM'd mid-reply; answers what that left, then killed
mid-reply; answers what the kill left) and the PostgreSQL test the last two.
"""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bot import messages
from storage.database import create_engine, is_sqlite, upgrade
from storage.models import InboxRow
from tests.conftest import empty_database
from tests.fakes.discord_rig import TOKEN
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.process import BotProcess, write_config
from tests.process import bot_env

MENTION = "<@1000>"
STARTED = "discord adapter started"
NOTES = (messages.restarting(answer_later=True), messages.restarting(answer_later=False))
PREVIEW_END = messages.preview("")
ENV = bot_env(DISCORD_TOKEN=TOKEN)
Message = dict[str, Any]


def config_for(path: Path, fake: FakeDiscord, url: str, *, grace_s: float, tokens: int) -> Path:
    return write_config(
        path,
        {
            "bot": {"preview_interval_s": 0.2, "shutdown_grace_s": grace_s},
            "model": {"name": "demo", "device": "cpu"},
            "generation": {"max_new_tokens": tokens},
            "storage": {"url": url},
            "ratelimit": {"user_per_minute": 0, "channel_per_minute": 0},
            "discord": {"api_base_url": fake.api_base, "gateway_url": fake.gateway_url, "guild_ready_timeout": 0.1},
            "logging": {"level": "INFO"},
        },
    )


def replies_to(fake: FakeDiscord, question: Message) -> list[str]:
    """What the bot's messages replying to `question` say now."""
    bot_id = str(fake.world.bot.id)
    return [
        m["content"]
        for m in fake.messages.values()
        if m["author"]["id"] == bot_id and (m.get("message_reference") or {}).get("message_id") == question["id"]
    ]


def answered(fake: FakeDiscord, question: Message) -> bool:
    found = replies_to(fake, question)
    return len(found) == 1 and found[0] not in NOTES and not found[0].endswith(PREVIEW_END)


def phases(log: str) -> list[str]:
    return [line.split("bot.shutdown: ")[1][:12] for line in log.splitlines() if "bot.shutdown: stopping " in line]


async def test_sqlite_sigterm_then_kill_9_mid_reply_and_every_message_is_answered_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with FakeDiscord() as fake:
        asked = await sigterm_mid_reply(fake, url, tmp_path)
        killed = await kill_mid_reply(fake, url, tmp_path, answering=asked)
        await restart_answers(fake, url, tmp_path, [killed])


@pytest.mark.postgres
async def test_postgres_kill_9_mid_reply_then_restart_answers_the_message_exactly_once(tmp_path: Path) -> None:
    async with empty_database("postgres", tmp_path) as url, FakeDiscord() as fake:
        await migrate(url)  # the bot migrates SQLite itself; PostgreSQL is migrated by the operator
        killed = await kill_mid_reply(fake, url, tmp_path, answering=[])
        await restart_answers(fake, url, tmp_path, [killed])


async def sigterm_mid_reply(fake: FakeDiscord, url: str, tmp_path: Path) -> list[Message]:
    """Run 1: four messages being answered, SIGTERM with no grace: a note for each, exit 0."""
    w = fake.world
    config = config_for(tmp_path / "sigterm.toml", fake, url, grace_s=0.0, tokens=48)  # cut every reply off
    async with BotProcess(config, ENV, tmp_path / "sigterm.log") as bot:
        await bot.wait_for_log(STARTED)
        asked = [
            await fake.push_message(channel, w.alice, f"{MENTION} question {n}", mentions=(w.bot,))
            for n, channel in enumerate((w.general, w.other, w.thread))
        ]
        asked.append(await fake.push_message(w.dm, w.alice, "question in a DM"))
        await fake.wait_for("POST", r"/channels/\d+/typing", count=len(asked), within_s=20)  # all being answered
        bot.send(signal.SIGTERM)
        assert await bot.wait(within_s=30) == 0
    log = bot.log_text()
    assert phases(log) == ["stopping 1/3", "stopping 2/3", "stopping 3/3"] and "Traceback" not in log
    for question in asked:  # the reply or the note, never half a reply
        [left] = replies_to(fake, question)
        assert left in NOTES or answered(fake, question)
    assert any(replies_to(fake, q) == [NOTES[0]] for q in asked)  # grace 0: cut off, to be answered later
    return asked


async def kill_mid_reply(fake: FakeDiscord, url: str, tmp_path: Path, *, answering: list[Message]) -> Message:
    """Run 2: answers what an earlier run left (`answering`), then dies (kill -9) in the middle
    of a reply to a new message, its preview showing."""
    w = fake.world
    config = config_for(tmp_path / "kill.toml", fake, url, grace_s=20.0, tokens=256)  # ~1 s: caught mid-way
    async with BotProcess(config, ENV, tmp_path / "kill.log") as bot:
        await bot.wait_for_log(STARTED)
        await fake.wait_until(lambda: all(answered(fake, q) for q in answering), within_s=40)
        question = await fake.push_message(w.general, w.alice, f"{MENTION} a long answer, please", mentions=(w.bot,))
        await fake.wait_until(lambda: any(r.endswith(PREVIEW_END) for r in replies_to(fake, question)), within_s=20)
        await bot.kill()
    assert not answered(fake, question) and all(answered(fake, q) for q in answering)  # the notes became answers
    await leases_run_out(url)  # what 30 s without the dead process's renewals would do
    return question


async def restart_answers(fake: FakeDiscord, url: str, tmp_path: Path, left: list[Message]) -> None:
    """Run 3: answers what the killed run left, exactly once, and stops cleanly."""
    config = config_for(tmp_path / "restart.toml", fake, url, grace_s=20.0, tokens=48)
    async with BotProcess(config, ENV, tmp_path / "restart.log") as bot:
        await bot.wait_for_log(STARTED)
        await fake.wait_until(lambda: all(answered(fake, q) for q in left), within_s=40)
        bot.send(signal.SIGTERM)
        assert await bot.wait(within_s=30) == 0
    log = bot.log_text()
    assert f"answering {len(left)} event(s) left unanswered earlier" in log and "Traceback" not in log
    assert all(answered(fake, q) for q in left)  # one reply each: the dead run's preview became it


async def migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        assert not is_sqlite(engine)
        await upgrade(engine)
    finally:
        await engine.dispose()


async def leases_run_out(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            past = datetime.now(UTC) - timedelta(seconds=1)
            await connection.execute(update(InboxRow).where(InboxRow.state == "pending").values(lease_until=past))
    finally:
        await engine.dispose()
