"""The real bot process behind Slack HTTP: crashes, stops, Web API outages and hostile requests.

Each test runs `python -m bot --config C run` (the demo model, SQLite in tmp_path or a fresh
PostgreSQL database), its Web API pointed at the fake in this process, and drives it with
requests signed as Slack signs them. What a person would see is read from the fake (the
bot's messages standing in each thread, and ephemeral answers); what was kept, from the
database. Tests that only need a healthy bot share one process (`bot`).
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot import messages
from bot.events import ChannelRef
from bot.store import Role
from storage.database import create_engine, is_sqlite, upgrade
from storage.inbox import SqlInbox
from storage.repository import SqlStore
from tests.conftest import DATABASES, empty_database
from tests.fakes.process import BotProcess, write_config
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_requests import SlackSender, event_callback, sign
from tests.fakes.slack_rig import BOT_TOKEN, SIGNING_SECRET
from tests.process import bot_env, free_port

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

THINKING = messages.SLACK_THINKING
NOTES = frozenset({messages.restarting(True), messages.restarting(False)})
START_S = 90.0  # start-up, model and migrations included, on a busy 2-core machine


def config(api: FakeSlackApi, url: str, port: int, changes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    sections: dict[str, dict[str, Any]] = {
        "bot": {"preview_interval_s": 0.0, "recover_after_s": 3.0},
        "model": {"name": "demo", "device": "cpu"},
        "generation": {"max_new_tokens": 12},
        "inference": {"prefix_cache_mb": 16},
        "storage": {"url": url},
        "ratelimit": {"user_per_minute": 0, "channel_per_minute": 0},
        "slack": {"host": "127.0.0.1", "port": port, "api_base_url": api.base_url},
    }
    for name, values in changes.items():
        sections[name] = {**sections.get(name, {}), **values}
    return sections


@dataclass
class Running:
    bot: BotProcess
    sender: SlackSender
    port: int

    async def restart(self) -> None:
        await self.bot.start()
        await self.bot.wait_for_port(self.port, within_s=START_S)


@asynccontextmanager
async def slack_bot(
    directory: Path, api: FakeSlackApi, url: str, **changes: Mapping[str, Any]
) -> AsyncIterator[Running]:
    """The bot process (config sections changed by `changes`), started and listening."""
    port = free_port()
    path = write_config(directory / "bot.toml", config(api, url, port, changes))
    env = bot_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET)
    process = BotProcess(path, env, directory / "bot.log")
    sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
    async with process:
        await process.wait_for_port(port, within_s=START_S)
        try:
            yield Running(process, sender, port)
        finally:
            await sender.close()


@asynccontextmanager
async def database(kind: str, directory: Path) -> AsyncIterator[str]:
    """An empty database at the newest migration (the bot migrates SQLite itself, not PostgreSQL)."""
    async with empty_database(kind, directory) as url:
        engine = create_engine(url)
        if not is_sqlite(engine):
            await upgrade(engine)
        await engine.dispose()
        yield url


def mention(channel: str, ts: str, text: str = "hello") -> dict[str, str]:
    return {"type": "app_mention", "user": "U1", "text": f"<@UBOT> {text}", "channel": channel, "ts": ts}


def threads(count: int, prefix: str) -> list[tuple[str, str]]:
    """`count` conversations: (channel, thread ts), spread over four channels."""
    return [(f"C{prefix}{i % 4}", f"1700{i:04d}.0001") for i in range(count)]


def answers(api: FakeSlackApi, channel: str, thread: str) -> list[str]:
    """What the bot answered in a thread: its messages standing there (not a placeholder or a
    restarting note) and its ephemeral answers to the asker."""
    shown = [m.shown for m in api.thread(channel, thread) if m.shown != THINKING and m.shown not in NOTES]
    ephemeral = [
        str(c.body.get("text"))
        for c in api.calls_to("chat.postEphemeral")
        if c.body.get("channel") == channel and c.body.get("thread_ts") == thread
    ]
    return shown + ephemeral


async def until(api: FakeSlackApi, done: Callable[[], bool], within_s: float, what: str, bot: BotProcess) -> None:
    """Wait until `done()` says what the bot did through the Web API is complete."""
    try:
        await api.wait_until(done, within_s)
    except TimeoutError:
        tail = "\n".join(bot.log_lines()[-40:])
        raise AssertionError(f"not within {within_s:.0f} s: {what}\n{tail}") from None


async def stored(url: str, where: ChannelRef) -> list[Role]:
    store = SqlStore(create_engine(url))
    try:
        return [m.role for m in await store.recent_messages(where, 50)]
    finally:
        await store.close()


async def left_for_later(url: str) -> set[str]:
    """The events in the inbox that the next process will answer (given back, unanswered)."""
    engine = create_engine(url)
    try:
        inbox = SqlInbox(engine, lease=timedelta(seconds=30), keep=timedelta(hours=1))
        return {d.key for d in await inbox.orphans("slack", timedelta(minutes=10), 1000)}
    finally:
        await engine.dispose()


def tracebacks(bot: BotProcess) -> list[str]:
    return [line for line in bot.log_lines() if "Traceback" in line]


async def burst(sender: SlackSender, convos: list[tuple[str, str]], event_ids: Mapping[str, str]) -> None:
    sent = await asyncio.gather(*(sender.event(mention(c, t), event_id=event_ids[t]) for c, t in convos))
    assert [s.status for s in sent] == [200] * len(convos)  # acknowledged: the bot owes each an answer


# --- crashes and stops ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", DATABASES)
async def test_after_kill_9_and_a_restart_every_acknowledged_mention_is_answered_exactly_once(
    kind: str, tmp_path: Path
) -> None:
    convos = threads(12, "K")
    ids = {ts: f"EvK{i}" for i, (_, ts) in enumerate(convos)}
    async with FakeSlackApi() as api, database(kind, tmp_path) as url:
        api.add_user("U1", "Alice")
        api.add_user("UADMIN", "Ada", admin=True)
        async with slack_bot(tmp_path, api, url, generation={"max_new_tokens": 60}) as running:
            bot, sender = running.bot, running.sender
            await burst(sender, convos, ids)
            await bot.kill()  # mid-burst: some answered, most not
            answered_before = {t for c, t in convos if answers(api, c, t)}
            await running.restart()  # Slack does not deliver acknowledged events again: the bot must find them
            await until(api, lambda: all(answers(api, c, t) for c, t in convos), 60, "every mention answered", bot)
            # redeliveries (as after a timeout) of answered events are acknowledged and nothing more
            again = [sender.event(mention(c, t), event_id=ids[t], retry_num=1) for c, t in convos]
            assert {s.status for s in await asyncio.gather(*again)} == {200}
            await api.settle(1.5)
            for channel, ts in convos:
                assert len(answers(api, channel, ts)) == 1, (channel, ts, api.thread(channel, ts))
                assert THINKING not in [m.shown for m in api.thread(channel, ts)]  # the dead one's were reused
                roles = await stored(url, ChannelRef("slack", "T1", channel, ts))
                assert roles.count(Role.USER) == 1 and roles.count(Role.BOT) <= 1
            assert len(answered_before) < len(convos)  # the kill really cut replies off
            assert tracebacks(bot) == []
            # a second signal while a reply is running ends the process at once
            await sender.command("set max_new_tokens 512", user="UADMIN", channel="CK0")
            await sender.event(mention("CK0", "1800.0001", "a long one"), event_id="EvLast")
            await until(api, lambda: bool(api.thread("CK0", "1800.0001")), 30, "a placeholder", bot)
            bot.send(signal.SIGTERM)
            await bot.wait_for_line(r"stopping 1/3: taking no new messages; [1-9]\d* repl", within_s=10)
            bot.send(signal.SIGTERM)
            assert await bot.wait(within_s=5) == 128 + signal.SIGTERM


async def test_sigterm_finishes_or_notes_every_reply_answers_503_meanwhile_and_exits_0(tmp_path: Path) -> None:
    convos = threads(30, "S")
    ids = {ts: f"EvS{i}" for i, (_, ts) in enumerate(convos)}
    async with FakeSlackApi() as api, database("sqlite", tmp_path) as url:
        api.add_user("U1", "Alice")
        slow: dict[str, dict[str, Any]] = {"bot": {"shutdown_grace_s": 0.5}, "generation": {"max_new_tokens": 200}}
        async with slack_bot(tmp_path, api, url, **slow) as running:
            bot, sender = running.bot, running.sender
            await burst(sender, convos, ids)
            await until(api, lambda: len(api.calls_to("chat.postMessage")) >= 30, 30, "30 placeholders", bot)
            bot.send(signal.SIGTERM)
            await bot.wait_for_line("stopping 1/3", within_s=10)
            late = await sender.event(mention("CS0", "1900.0001"))
            assert late.status == 503  # Slack delivers it again: elsewhere, or after the restart
            assert await bot.wait(within_s=30) == 0
            run = bot.log_lines()
            assert [sum(f"stopping {n}/3" in line for line in run) for n in (1, 2, 3)] == [1, 1, 1]
            for channel, ts in convos:
                shown = [m.shown for m in api.thread(channel, ts)]
                assert THINKING not in shown, (channel, ts, shown)
                assert answers(api, channel, ts) or messages.restarting(True) in shown, (channel, ts, shown)
            noted = {ids[t] for c, t in convos if not answers(api, c, t)}
            assert noted, "no reply was cut off: the model was too quick for this test"
            assert await left_for_later(url) == {f"slack:{event_id}" for event_id in noted}
            assert tracebacks(bot) == []


# --- one healthy process for outages and abuse ------------------------------------------------


class Shared:
    def __init__(self, api: FakeSlackApi, bot: BotProcess, sender: SlackSender, url: str) -> None:
        self.api, self.bot, self.sender, self.url = api, bot, sender, url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Shared]:
    directory = tmp_path_factory.mktemp("slack-bot")
    async with FakeSlackApi() as api, database("sqlite", directory) as url:
        api.add_user("U1", "Alice")
        async with slack_bot(directory, api, url) as running:
            yield Shared(api, running.bot, running.sender, url)


async def ask(shared: Shared, channel: str, ts: str, text: str = "hello") -> None:
    assert (await shared.sender.event(mention(channel, ts, text))).status == 200


async def test_a_web_api_outage_loses_no_user_turn_and_leaves_no_placeholder(bot: Shared) -> None:
    api, mark = bot.api, len(bot.bot.log_lines())
    api.fail("*", "internal_error", status=500, body="text", times=10_000)
    convos = threads(4, "O")
    try:
        for i, (channel, ts) in enumerate(convos):
            if i == 2:
                api.fail("*", "dropped", status=500, body="drop", times=10_000)  # now connections drop instead
            await ask(bot, channel, ts)
        not_delivered = r"slack: reply to message \S+ in CO\d was not delivered"
        await bot.bot.wait_for_line(not_delivered, within_s=60, after=mark, count=4)
    finally:
        api.heal()
    for channel, ts in convos:
        assert await stored(bot.url, ChannelRef("slack", "T1", channel, ts)) == [Role.USER]  # said, and kept
        assert api.thread(channel, ts) == []
    assert tracebacks(bot.bot) == []


async def test_429_on_the_final_update_and_on_the_fallback_post_is_logged_and_removes_the_placeholder(
    bot: Shared,
) -> None:
    api, mark = bot.api, len(bot.bot.log_lines())
    api.rate_limit("chat.update", times=3, retry_after=1)  # more than slack_sdk's retries
    api.fail("chat.postMessage", "ratelimited", status=429, times=3, retry_after=1, skip=1)  # after the placeholder
    await ask(bot, "CR", "1750.0001")
    failure = await bot.bot.wait_for_line(
        r"reply to message 1750\.0001 in CR was not delivered \((.*)\)", within_s=30, after=mark
    )
    assert "ratelimited" in failure.group(1)
    await until(api, lambda: api.thread("CR", "1750.0001") == [], 10, "placeholder removed", bot.bot)
    roles = await stored(bot.url, ChannelRef("slack", "T1", "CR", "1750.0001"))
    assert roles == [Role.USER]  # the undelivered reply is not in the history either
    await ask(bot, "CR", "1750.0002")  # and the next one goes through
    await until(api, lambda: bool(answers(api, "CR", "1750.0002")), 30, "the next reply", bot.bot)
    assert tracebacks(bot.bot) == []


MARKER = "forged-request-marker-7f3a"


def fuzz_bodies(rng: random.Random, count: int) -> list[tuple[bytes, str, str]]:
    """(body, content type, signing) triples: broken, odd and valid-looking bodies, signed or not."""
    valid = json.dumps(event_callback(mention("CF", "1760.0001", MARKER), event_id="EvFuzz")).encode()
    command = f"command=%2Fgpt2&text={MARKER}&user_id=U1&channel_id=CF&team_id=T1".encode()
    odd_values: list[Any] = [None, 0, -1, 1e308, "", "x" * 5000, [], {}, [None], {"type": None}, True, "\ud800"]
    bodies: list[tuple[bytes, str, str]] = []
    for _ in range(count):
        shape = rng.randrange(7)
        kind = "application/json"
        if shape == 0:
            body = rng.randbytes(rng.randrange(1, 400))
        elif shape == 1:
            body = valid[: rng.randrange(1, len(valid))]
        elif shape in (2, 3):
            payload = json.loads(valid)
            target = payload if shape == 2 else payload["event"]
            key = rng.choice([*target.keys(), "extra"])
            target[key] = rng.choice(odd_values)
            body = json.dumps(payload).encode()
        elif shape == 4:
            kind = "application/x-www-form-urlencoded"
            body = rng.choice([command, b"payload=", b"payload=%7B", b"a=b&c", command[: rng.randrange(1, 40)]])
        elif shape == 5:
            body = b"[" * rng.randrange(1, 50_000) + b"1"
        else:
            kind = rng.choice(["text/plain", "application/xml", "", "application/json; charset=latin-1"])
            body = valid
        signing = rng.choice(["signed", "signed", "forged", "unsigned", "stale"])
        bodies.append((body, kind, signing))
    huge = json.dumps(event_callback(mention("CF", "1760.0002", MARKER * 100_000))).encode()  # 2.6 MB
    return [*bodies, (huge, "application/json", "signed"), (huge, "application/json", "unsigned")]


async def test_fuzzed_requests_get_4xx_or_200_never_a_traceback_nor_a_hang(bot: Shared) -> None:
    rng = random.Random(20261129)
    statuses: list[int] = []
    headers_for: dict[str, Callable[[bytes], dict[str, str]]] = {
        "signed": lambda body: sign(SIGNING_SECRET, body),
        "forged": lambda body: sign("not-the-secret", body),
        "unsigned": lambda body: {},
        "stale": lambda body: sign(SIGNING_SECRET, body, timestamp=1),
    }

    async def send(body: bytes, kind: str, signing: str) -> None:
        sent = await asyncio.wait_for(bot.sender.raw(body, kind, headers_for[signing](body)), 10)
        statuses.append(sent.status)
        if signing != "signed":
            assert sent.status in (401, 413)  # refused unread, whether too big or unsigned

    async with asyncio.timeout(60):
        cases = fuzz_bodies(rng, 240)
        for start in range(0, len(cases), 8):
            await asyncio.gather(*(send(*case) for case in cases[start : start + 8]))
    assert set(statuses) <= {200, 400, 401, 404, 413}, sorted(set(statuses))
    assert statuses.count(401) > 50 and statuses.count(400) > 20
    await ask(bot, "CF", "1770.0001", "still there?")
    await until(bot.api, lambda: bool(answers(bot.api, "CF", "1770.0001")), 30, "an answer after the fuzz", bot.bot)
    assert tracebacks(bot.bot) == []
    forged_logged = [line for line in bot.bot.log_lines() if MARKER in line]
    assert forged_logged == []
