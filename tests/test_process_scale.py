"""Several real bot processes (`python -m bot --config C run`, the demo model) on one PostgreSQL
and one Redis, as README "Scaling out" deploys them.

Slack: two processes in HTTP mode, as behind a load balancer. Every event goes to a process
picked at random (fixed seed) and is redelivered once or twice, to either process, at random
moments; each conversation's messages are sent one after another (each once Slack got its
200 for the previous one), the conversations all at once. Every message must be answered
exactly once, each conversation's replies in the order of its messages, and one user's rate
limit must count the messages both processes took.

Slack installs in many workspaces: a workspace installs the app through one process, and the
other answers its message with that workspace's token (the installs live in the database).

Discord: two processes, each running one of two shards against the fake gateway, which sends
each guild's events only to the shard that owns it (`guild_id >> 22 % shard_count`); each
process answers its own guild's messages, and every message is answered once. Which process
answered is read from its JSON log (`answered: …` lines carry the conversation).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.slack_outbox import REPLY_EVENT
from bot import messages
from storage.database import create_engine, upgrade
from tests.conftest import RedisSpace, empty_database
from tests.fakes.discord_payloads import World
from tests.fakes.discord_rig import TOKEN
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.process import BotProcess, write_config
from tests.fakes.slack_api import FakeSlackApi, Install
from tests.fakes.slack_requests import SlackSender, event_callback
from tests.fakes.slack_rig import BOT_TOKEN, SIGNING_SECRET
from tests.process import bot_env, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MENTION = "<@1000>"
SEED = 14
CONVERSATIONS = 4
MESSAGES = 4  # per conversation
USER_PER_MINUTE = 5
START_S = 90.0
STARTED = "discord adapter started"
SECOND_GUILD = World(guild_id=(1 << 22) + 100, guild_name="Second Guild", general=320, other=321, thread=330)
Message = dict[str, Any]


@asynccontextmanager
async def shared_database(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh PostgreSQL database at the newest migration (`db upgrade`, as the operator runs it)."""
    async with empty_database("postgres", tmp_path) as url:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        yield url


def base_config(url: str, redis: RedisSpace) -> dict[str, dict[str, Any]]:
    return {
        "bot": {"preview_interval_s": 0.0},
        "model": {"name": "demo", "device": "cpu"},
        "generation": {"max_new_tokens": 40},
        "inference": {"prefix_cache_mb": 16},
        "storage": {"url": url},
        "redis": {"url": redis.url, "key_prefix": redis.prefix},
        "logging": {"level": "INFO", "format": "json"},
    }


@dataclass
class ReplyLog(FakeSlackApi):
    """The fake Web API, noting each complete reply (metadata `done`) and each ephemeral answer in
    the order they arrive."""

    done: list[tuple[str, str]] = field(default_factory=list)  # (thread, the message's ts)
    ephemeral: list[tuple[str, str]] = field(default_factory=list)  # (user, text)

    def _record(self, method: str, body: Mapping[str, Any], token: str) -> None:
        super()._record(method, body, token)
        metadata = body.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if method in ("chat.postMessage", "chat.update") and isinstance(metadata, dict):
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == REPLY_EVENT and payload.get("done"):
                thread = self.messages[str(body["ts"])].thread_ts if "ts" in body else str(body.get("thread_ts"))
                self.done.append((thread, str(payload.get("answers"))))
        elif method == "chat.postEphemeral":
            self.ephemeral.append((str(body.get("user")), str(body.get("text"))))


def mention(user: str, channel: str, ts: str, thread: str = "") -> dict[str, str]:
    event = {"type": "app_mention", "user": user, "text": f"<@UBOT> hello {ts}", "channel": channel, "ts": ts}
    return {**event, "thread_ts": thread} if thread else event


async def deliver(
    senders: list[SlackSender],
    rng: random.Random,
    event: dict[str, str],
    event_id: str,
    later: list[asyncio.Task[None]],
) -> None:
    """The first delivery to a random process (its 200 awaited), and 1-2 redeliveries to random
    processes at random moments, left running in `later`."""
    sent = await rng.choice(senders).event(event, event_id=event_id)
    assert sent.status == 200, sent

    async def again(retry: int, delay_s: float, sender: SlackSender) -> None:
        await asyncio.sleep(delay_s)
        assert (await sender.event(event, event_id=event_id, retry_num=retry)).status == 200

    for retry in range(1, rng.randint(2, 3)):
        later.append(asyncio.create_task(again(retry, rng.uniform(0.0, 3.0), rng.choice(senders))))


async def conversation(senders: list[SlackSender], n: int, later: list[asyncio.Task[None]]) -> list[str]:
    """One thread's messages, one after another; their ts, in order."""
    rng = random.Random(SEED * 100 + n)
    root = f"1700{n:04d}.000100"
    sent = []
    for m in range(MESSAGES):
        ts = root if m == 0 else f"1700{n:04d}.{m + 1:04d}00"
        await deliver(senders, rng, mention(f"U{n}", f"C{n}", ts, root if m else ""), f"EvC{n}M{m}", later)
        sent.append(ts)
        await asyncio.sleep(rng.uniform(0.0, 0.1))
    return sent


async def test_two_slack_processes_answer_every_event_once_in_order_and_share_the_rate_limit(
    tmp_path: Path, redis_space: RedisSpace
) -> None:
    api = ReplyLog()
    async with shared_database(tmp_path) as url, api, AsyncExitStack() as stack:
        for n in range(CONVERSATIONS):
            api.add_user(f"U{n}", f"person {n}")
        api.add_user("UL", "chatty")
        senders, bots, ports = [], [], [free_port(), free_port()]
        for n, port in enumerate(ports):
            sections = base_config(url, redis_space)
            sections["slack"] = {"host": "127.0.0.1", "port": port, "api_base_url": api.base_url}
            sections["ratelimit"] = {"user_per_minute": USER_PER_MINUTE, "channel_per_minute": 0}
            sections["safety"] = {"enabled": False}  # the demo model's noise would be refused now and then
            env = bot_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET)
            bot = BotProcess(write_config(tmp_path / f"slack{n}.toml", sections), env, tmp_path / f"slack{n}.log")
            bots.append(await stack.enter_async_context(bot))
            senders.append(SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET))
            stack.push_async_callback(senders[-1].close)
        await asyncio.gather(*(b.wait_for_port(p, within_s=START_S) for b, p in zip(bots, ports, strict=True)))

        later: list[asyncio.Task[None]] = []
        threads = await asyncio.gather(*(conversation(senders, n, later) for n in range(CONVERSATIONS)))
        rng = random.Random(SEED)
        chatty = [f"1800{k:04d}.000100" for k in range(USER_PER_MINUTE + 3)]
        for k, ts in enumerate(chatty):  # one user, alternately at each process: one limit for both
            await deliver(senders[k % 2 :] + senders[: k % 2], rng, mention("UL", "CL", ts), f"EvL{k}", later)
        await asyncio.gather(*later)

        expected = CONVERSATIONS * MESSAGES + USER_PER_MINUTE
        await api.wait_until(lambda: len(api.done) >= expected, within_s=60)
        await api.settle(2.0)  # a second answer to anything would come now

    assert Counter(ts for _, ts in api.done).most_common(1)[0][1] == 1  # nothing answered twice
    for sent in threads:  # every message answered, each conversation in order
        assert [ts for thread, ts in api.done if thread == sent[0]] == sent
    limited = [text for user, text in api.ephemeral if user == "UL"]
    assert len(limited) == 3 and all(text.startswith(messages.rate_limited(1)[:10]) for text in limited)
    assert len([ts for thread, ts in api.done if ts in chatty]) == USER_PER_MINUTE
    assert all(answered_in(bot.log_text()) for bot in bots)  # both processes did their share
    assert not any("Traceback" in bot.log_text() for bot in bots)


async def test_a_workspace_installed_through_one_process_is_answered_by_the_other(
    tmp_path: Path, redis_space: RedisSpace
) -> None:
    api = ReplyLog()
    async with shared_database(tmp_path) as url, api, AsyncExitStack() as stack:
        api.add_user("U1", "Alice")
        api.add_install("code-two", Install("T2", "xoxb-two", "UBOT2", "B2"))
        env = bot_env(
            SLACK_CLIENT_ID=api.client_id, SLACK_CLIENT_SECRET=api.client_secret, SLACK_SIGNING_SECRET=SIGNING_SECRET
        )
        ports = [free_port(), free_port()]
        bots = []
        for n, port in enumerate(ports):
            sections = base_config(url, redis_space)
            sections["slack"] = {"host": "127.0.0.1", "port": port, "api_base_url": api.base_url}
            bot = BotProcess(write_config(tmp_path / f"installs{n}.toml", sections), env, tmp_path / f"installs{n}.log")
            bots.append(await stack.enter_async_context(bot))
        await asyncio.gather(*(b.wait_for_port(p, within_s=START_S) for b, p in zip(bots, ports, strict=True)))
        async with aiohttp.ClientSession() as browser:  # the install goes through the first process
            base = f"http://127.0.0.1:{ports[0]}"
            async with browser.get(f"{base}/slack/install") as page:
                state = re.search(r"state=([\w-]+)", await page.text())
                cookie = page.headers["Set-Cookie"].split(";")[0]
            assert state is not None
            back = f"{base}/slack/oauth_redirect?code=code-two&state={state[1]}"
            async with browser.get(back, headers={"Cookie": cookie}) as done:
                assert done.status == 200
        sender = SlackSender(f"http://127.0.0.1:{ports[1]}/slack/events", SIGNING_SECRET)  # the event, the second
        stack.push_async_callback(sender.close)
        event = {"type": "app_mention", "user": "U1", "text": "<@UBOT2> hello", "channel": "C2", "ts": "1900.0001"}
        assert (await sender.json(event_callback(event, team="T2"))).status == 200
        await api.wait_until(lambda: len(api.done) == 1, within_s=30)
        await bots[1].wait_for_log("answered: ", within_s=10)
    assert api.done == [("1900.0001", "1900.0001")]
    assert {c.token for c in api.calls_to("chat.postMessage")} == {"xoxb-two"}
    assert answered_in(bots[1].log_text()) == ["slack:T2:C2:1900.0001"] and not answered_in(bots[0].log_text())


def answered_in(log: str) -> list[str]:
    """The conversations a process answered, from its JSON log."""
    found = []
    for line in log.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if str(entry.get("message", "")).startswith("answered: "):
                found.append(str(entry.get("channel")))
    return found


def replies_to(fake: FakeDiscord, question: Message) -> list[Message]:
    bot_id = str(fake.world.bot.id)
    return [
        m
        for m in fake.messages.values()
        if m["author"]["id"] == bot_id and (m.get("message_reference") or {}).get("message_id") == question["id"]
    ]


async def test_two_processes_with_a_shard_each_answer_their_own_guilds_once(
    tmp_path: Path, redis_space: RedisSpace
) -> None:
    assert (SECOND_GUILD.guild_id >> 22) % 2 == 1 and (World().guild_id >> 22) % 2 == 0
    async with (
        shared_database(tmp_path) as url,
        FakeDiscord(more_worlds=(SECOND_GUILD,)) as fake,
        AsyncExitStack() as stack,
    ):
        bots = []
        for shard in (0, 1):
            sections = base_config(url, redis_space)
            sections["discord"] = {
                "api_base_url": fake.api_base,
                "gateway_url": fake.gateway_url,
                "guild_ready_timeout": 0.1,
                "shard_count": 2,
                "shard_ids": [str(shard)],
            }
            config = write_config(tmp_path / f"shard{shard}.toml", sections)
            bot = BotProcess(config, bot_env(DISCORD_TOKEN=TOKEN), tmp_path / f"shard{shard}.log")
            bots.append(await stack.enter_async_context(bot))
        await asyncio.gather(*(bot.wait_for_log(STARTED, within_s=90) for bot in bots))
        assert sorted(tuple(i["shard"]) for i in fake.gateway.identifies) == [(0, 2), (1, 2)]
        asked = []
        for world in (fake.world, SECOND_GUILD):
            for channel in (world.general, world.other):
                text = f"{MENTION} hello from {world.guild_name}"
                asked.append(await fake.push_message(channel, world.alice, text, mentions=(fake.world.bot,)))
        await fake.wait_until(lambda: all(len(replies_to(fake, q)) == 1 for q in asked), within_s=60)
        await asyncio.gather(*(bot.wait_for_line("answered: ", count=2, within_s=10) for bot in bots))
        await asyncio.sleep(1.0)  # a second answer would come now
        assert all(len(replies_to(fake, q)) == 1 for q in asked)
    first, second = (answered_in(bot.log_text()) for bot in bots)
    assert sorted(first) == sorted(f"discord:100:{c}" for c in (fake.world.general, fake.world.other))
    assert sorted(second) == sorted(f"discord:{SECOND_GUILD.guild_id}:{c}" for c in (320, 321))
    assert not any("Traceback" in bot.log_text() for bot in bots)
