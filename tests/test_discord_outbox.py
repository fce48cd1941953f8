"""Replies under Discord's rate limits and failures, through the real core and discord.py.

The fake REST answers 429 the way Discord does (a JSON `retry_after`, a `Via` header);
discord.py sleeps and retries inside the call that got it. Previews must never sit in
that sleep while the conversation waits; the finished reply waits, up to a bound, and a
reply that cannot be delivered is reported as such (None), never raised, and not stored.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest

from adapters.discord_outbox import MAX_RATELIMIT_WAIT_S
from bot import messages, metrics
from bot.config import BotSection, Config
from bot.events import ChannelRef
from bot.store import Role, Store
from storage.memory import MemoryInbox
from tests.fakes.core import ScriptedGenerator, build_core
from tests.fakes.discord_rig import Rig, discord_rig, eventually

MENTION = "<@1000>"
GENERAL = ChannelRef("discord", "100", "300")
EDITS = r"/channels/300/messages/\d+"
REPLY = "A slow and thoughtful answer, written word by word."
QUICK_PREVIEWS = Config(bot=BotSection(preview_interval_s=0.3))  # previews at ~0.3 s, ~0.6 s, ...


def left_in(rig: Rig, channel_id: int) -> list[str]:
    """What the bot's messages in a channel say now (deleted ones are gone)."""
    bot_id = str(rig.world.bot.id)
    return [
        m["content"]
        for m in rig.fake.messages.values()
        if m["author"]["id"] == bot_id and m["channel_id"] == str(channel_id)
    ]


def rate_limited(route: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value(
            "gpt2bot_platform_rate_limited_total", {"platform": "discord", "method": route}
        )
        or 0.0
    )


async def stored(store: Store, turns: int) -> bool:
    return len(await store.recent_messages(GENERAL, 10)) >= turns


async def test_a_long_rate_limit_on_preview_edits_never_holds_up_the_reply() -> None:
    core = build_core(generator=ScriptedGenerator(REPLY, delay_s=1.2), config=QUICK_PREVIEWS)
    async with discord_rig(core.handler) as rig:
        w = rig.world
        rig.fake.rate_limit("PATCH", EDITS, 30.0)  # every edit in this channel: 429 for the next 30 s
        started = time.monotonic()
        sent = await rig.fake.push_message(w.general, w.alice, f"{MENTION} think about it", mentions=(w.bot,))
        preview, reply = await rig.replies(w.general, count=2)
        assert time.monotonic() - started < 10.0  # ~2 s, not the 30 s the rate limit asked for
        assert preview.body["content"].endswith(" …")
        assert reply.body["content"] == REPLY  # posted anew: editing the preview would wait for the limit
        assert reply.body["message_reference"]["message_id"] == int(sent["id"])
        await rig.fake.wait_for("DELETE", EDITS)
        assert left_in(rig, w.general) == [REPLY]  # the preview is gone
        assert len(rig.fake.find("PATCH", EDITS)) == 1  # one preview edit tried, none retried or waited on
        await eventually(lambda: stored(core.store, 2))
        [_, bot_turn] = await core.store.recent_messages(GENERAL, 10)
        assert (bot_turn.role, bot_turn.message_id) == (Role.BOT, str(max(rig.fake.messages)))


async def test_the_final_reply_waits_out_a_short_rate_limit_and_is_delivered() -> None:
    core = build_core(generator=ScriptedGenerator("worth the wait"))
    before = rate_limited("POST /channels/{id}/messages")
    async with discord_rig(core.handler) as rig:
        w = rig.world
        rig.fake.rate_limit("POST", "/channels/300/messages", 0.5, times=1)
        await rig.fake.push_message(w.general, w.alice, f"{MENTION} hello", mentions=(w.bot,))
        limited, delivered = await rig.replies(w.general, count=2)
        assert delivered.body == limited.body and delivered.body["content"] == "worth the wait"
        assert delivered.at - limited.at >= 0.5  # discord.py waited as Discord asked, then retried
        assert rate_limited("POST /channels/{id}/messages") == before + 1  # the operator sees the 429
        await eventually(lambda: stored(core.store, 2))


async def test_a_reply_behind_a_rate_limit_longer_than_the_bound_is_reported_undelivered_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert MAX_RATELIMIT_WAIT_S < 3600
    core = build_core(generator=ScriptedGenerator("never seen"))
    async with discord_rig(core.handler) as rig:
        w = rig.world
        rig.fake.rate_limit("POST", "/channels/300/messages", 3600.0)
        with caplog.at_level(logging.WARNING):
            await rig.fake.push_message(w.general, w.alice, f"{MENTION} hello", mentions=(w.bot,))
            await rig.replies(w.general)
            await eventually(lambda: any("was not delivered" in r.getMessage() for r in caplog.records))
        [turn] = await core.store.recent_messages(GENERAL, 10)  # the question only: history shows no reply
        assert turn.role is Role.USER
        failures = [r.getMessage() for r in caplog.records if r.name == "adapters.discord_outbox"]
        assert any("chat reply failed in channel 300" in m and "rate limited for 3600 s" in m for m in failures)
        assert not any(r.exc_info for r in caplog.records)  # a logged failure, not a traceback


async def test_a_stop_mid_reply_turns_the_preview_into_the_restarting_note() -> None:
    inbox = MemoryInbox()
    core = build_core(generator=ScriptedGenerator(REPLY, delay_s=4.0), config=QUICK_PREVIEWS)  # text from 1 s on
    async with discord_rig(core.handler, inbox=inbox) as rig:
        w = rig.world
        sent = await rig.fake.push_message(w.general, w.alice, f"{MENTION} think long", mentions=(w.bot,))
        [preview] = await rig.replies(w.general)
        assert preview.body["content"].endswith(" …")
        await rig.adapter.stop()
        [note] = rig.fake.find("PATCH", EDITS)
        assert note.body["content"] == messages.restarting(answer_later=True)
        assert left_in(rig, w.general) == [messages.restarting(answer_later=True)]  # no half reply left
        entry = inbox.entries[f"discord:{sent['id']}"]
        assert entry.state == "pending" and entry.lease_until < datetime.now(UTC)  # released: any process may take it
        [(role, _)] = [(t.role, t.text) for t in await core.store.recent_messages(GENERAL, 10)]
        assert role is Role.USER  # stored, unanswered: answered after the restart
