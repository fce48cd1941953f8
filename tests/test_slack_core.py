"""End to end through the real core: Slack requests over HTTP → ChatHandler → store → Slack.

Only the model is scripted (`ScriptedGenerator`); commands, permissions, settings,
audit rows, history and dedupe are the production code on a real SQLite file.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from transformers import PreTrainedTokenizerBase

from bot import messages
from bot.config import Config
from bot.events import ChannelRef
from storage.database import create_engine, upgrade
from storage.inbox import SqlInbox
from storage.models import InboxRow
from storage.repository import SqlStore
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_core import ScriptedGenerator, real_core
from tests.fakes.slack_requests import event_callback, sign
from tests.fakes.slack_rig import SIGNING_SECRET, slack_rig

C1 = ChannelRef("slack", "T1", "C1")


def mention(text: str, ts: str = "1000.0001", **extra: str) -> dict[str, str]:
    return {"type": "app_mention", "user": "U1", "text": f"<@UBOT> {text}", "channel": "C1", "ts": ts, **extra}


def inbox_of(store: SqlStore) -> SqlInbox:
    return SqlInbox(store.engine, lease=timedelta(seconds=30), keep=timedelta(hours=1))


async def open_store(path: Path) -> SqlStore:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    return SqlStore(engine)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    sql = await open_store(tmp_path / "bot.db")
    yield sql
    await sql.close()


async def test_set_from_a_non_admin_is_refused_and_from_an_admin_is_applied_and_audited(
    store: SqlStore, tokenizer: PreTrainedTokenizerBase
) -> None:
    core = real_core(Config(), store, ScriptedGenerator(), tokenizer)
    async with slack_rig(core, inbox=inbox_of(store)) as rig:
        await rig.sender.command("set top_p 0.9", user="U1", response_url=rig.api.response_url("refused"))
        refused = (await rig.api.wait_for("response_url"))[0].body
        assert (refused["text"], refused["response_type"]) == (messages.NOT_MODERATOR, "ephemeral")
        assert (await store.channel_state(C1)).overrides == {}
        assert await store.audit_log(C1, 10) == []

        await rig.sender.command("set top_p 0.9", user="UADMIN", response_url=rig.api.response_url("applied"))
        applied = (await rig.api.wait_for("response_url", 2))[1].body
        assert applied["response_type"] == "ephemeral" and "top_p" in applied["text"]
        assert (await store.channel_state(C1)).overrides == {"top_p": "0.9"}
        [row] = await store.audit_log(C1, 10)
        assert (row.action, row.key, row.new_value, row.actor_id, row.actor_name) == (
            "set",
            "top_p",
            "0.9",
            "UADMIN",
            "Ada",
        )
        assert rig.api.calls_to("chat.postMessage") == []  # nothing visible to the channel


async def test_mention_is_acked_at_once_while_a_slow_model_works_then_answered_in_the_thread(
    store: SqlStore, tokenizer: PreTrainedTokenizerBase
) -> None:
    generator = ScriptedGenerator(delay_s=3.5)  # slower than Slack's 3-second deadline
    async with slack_rig(real_core(Config(), store, generator, tokenizer), inbox=inbox_of(store)) as rig:
        sent = await rig.sender.event(mention("hello"))
        assert sent.status == 200 and sent.elapsed_s < 1.0
        placeholder = (await rig.api.wait_for("chat.postMessage"))[0]
        assert placeholder.body["thread_ts"] == "1000.0001"
        # previews of the growing reply (at most one a second), then the reply, all in the placeholder
        final_text = "Hello from the model."
        async with asyncio.timeout(10):
            while not any(u.body["text"] == final_text for u in rig.api.calls_to("chat.update")):
                await rig.api.wait_for("chat.update", len(rig.api.calls_to("chat.update")) + 1)
        await rig.api.settle()
        updates = rig.api.calls_to("chat.update")
        *previews, final = [u.body["text"] for u in updates]
        assert final == final_text
        assert 1 <= len(previews) <= 3 and all(p.endswith(" …") and final.startswith(p[:-2]) for p in previews)
        assert {u.body["ts"] for u in updates} == {"1700000000.000001"}  # the placeholder the fake posted first
        assert rig.api.calls_to("chat.delete") == []


async def test_thread_keeps_its_own_history(store: SqlStore, tokenizer: PreTrainedTokenizerBase) -> None:
    generator = ScriptedGenerator()
    async with slack_rig(real_core(Config(), store, generator, tokenizer), inbox=inbox_of(store)) as rig:
        await rig.sender.event(mention("remember the word pineapple"))
        await rig.api.wait_for("chat.update")
        await rig.sender.event(mention("what was the word?", ts="1000.0005", thread_ts="1000.0001"))
        await rig.sender.event(mention("a new topic", ts="1000.0009"))
        await rig.api.wait_for("chat.update", 3)
        prompts = [str(tokenizer.decode(list(r.prompt_ids))) for r in generator.requests]
        # the last two mentions are answered concurrently (two conversations): find each one's prompt
        in_thread = next(p for p in prompts if "what was the word?" in p)
        new_topic = next(p for p in prompts if "a new topic" in p)
        assert "pineapple" in in_thread  # same thread: the earlier turns are in the prompt
        assert "Hello from the model." in in_thread
        assert "pineapple" not in new_topic  # a new top-level mention starts a fresh thread
        assert sorted(c.body["thread_ts"] for c in rig.api.calls_to("chat.postMessage")) == [
            "1000.0001",
            "1000.0001",
            "1000.0009",
        ]


async def test_channel_messages_are_answered_only_after_a_moderator_enables_the_channel(
    store: SqlStore, tokenizer: PreTrainedTokenizerBase
) -> None:
    plain = {"type": "message", "channel_type": "channel", "user": "U1", "channel": "C1"}
    async with slack_rig(real_core(Config(), store, ScriptedGenerator(), tokenizer), inbox=inbox_of(store)) as rig:
        await rig.sender.event({**plain, "text": "anyone here?", "ts": "10.1"})
        await rig.sender.command("enable", user="U1", response_url=rig.api.response_url())
        await rig.api.wait_for("response_url")
        await rig.api.settle()
        assert [c.method for c in rig.api.calls if c.method.startswith("chat.")] == []
        assert (await store.channel_state(C1)).enabled is False

        await rig.sender.command("enable", user="UADMIN", response_url=rig.api.response_url())
        await rig.api.wait_for("response_url", 2)
        await rig.sender.event({**plain, "text": "now?", "ts": "10.2"}, event_id="EvNow")
        update = (await rig.api.wait_for("chat.update"))[0]
        assert update.body["text"] == "Hello from the model."
        assert rig.api.calls_to("chat.postMessage")[0].body["thread_ts"] == "10.2"
        async with store.engine.connect() as connection:
            kept = set((await connection.execute(select(InboxRow.key))).scalars())
        assert "slack:EvNow" in kept and len([k for k in kept if not k.startswith("slack:command:")]) == 1


async def test_generated_channel_broadcast_never_reaches_slack_as_a_mention(
    store: SqlStore, tokenizer: PreTrainedTokenizerBase
) -> None:
    generator = ScriptedGenerator(reply=lambda request: " Attention <!channel> and <!here>, @everyone!")
    async with slack_rig(real_core(Config(), store, generator, tokenizer), inbox=inbox_of(store)) as rig:
        await rig.sender.event(mention("say something loud"))
        text = (await rig.api.wait_for("chat.update"))[0].body["text"]
        assert "<!" not in text and "@everyone" not in text
        assert "&lt;!channel&gt;" in text


async def test_redelivery_after_a_restart_is_not_answered_again(
    tmp_path: Path, tokenizer: PreTrainedTokenizerBase
) -> None:
    path = tmp_path / "bot.db"
    async with FakeSlackApi() as api:
        for event_id, retry_num in [("EvSame", 0), ("EvSame", 1), ("EvNew", 0)]:
            store = await open_store(path)  # a fresh process: new store, core and adapter
            try:
                core = real_core(Config(), store, ScriptedGenerator(), tokenizer)
                async with slack_rig(core, inbox=inbox_of(store), api=api) as rig:
                    ts = "1000.0001" if event_id == "EvSame" else "1000.0002"
                    sent = await rig.sender.event(mention("hi", ts=ts), event_id=event_id, retry_num=retry_num)
                    assert sent.status == 200
                    await api.settle(0.3)
            finally:
                await store.close()
        updates = api.calls_to("chat.update")
        assert [c.body["text"] for c in updates] == ["Hello from the model."] * 2  # EvSame once, EvNew once
        assert [c.body["thread_ts"] for c in api.calls_to("chat.postMessage")] == ["1000.0001", "1000.0002"]


async def test_concurrent_mentions_all_get_answers(store: SqlStore, tokenizer: PreTrainedTokenizerBase) -> None:
    generator = ScriptedGenerator(delay_s=0.2)
    async with slack_rig(real_core(Config(), store, generator, tokenizer), inbox=inbox_of(store)) as rig:
        sends = [rig.sender.event(mention(f"n{i}", ts=f"2000.{i:04d}")) for i in range(5)]
        assert all(s.status == 200 for s in await asyncio.gather(*sends))
        await rig.api.wait_for("chat.update", 5)
        placeholders = {f"1700000000.{i:06d}" for i in range(1, 6)}
        assert {c.body["ts"] for c in rig.api.calls_to("chat.update")} == placeholders


async def test_persona_with_an_ampersand_is_stored_and_shown_as_typed(
    store: SqlStore, tokenizer: PreTrainedTokenizerBase
) -> None:
    async with slack_rig(real_core(Config(), store, ScriptedGenerator(), tokenizer), inbox=inbox_of(store)) as rig:
        # Slack sends what was typed as `/gpt2 persona Tom & Jerry` escaped, like message text
        await rig.sender.command("persona Tom &amp; Jerry", user="UADMIN", response_url=rig.api.response_url())
        answer = (await rig.api.wait_for("response_url"))[0].body["text"]
        assert (await store.channel_state(C1)).overrides["persona"] == "Tom & Jerry"
        assert "Tom &amp; Jerry" in answer and "&amp;amp;" not in answer  # Slack shows "Tom & Jerry"


async def test_text_with_lone_surrogates_is_answered_and_stored_cleaned(
    store: SqlStore, tokenizer: PreTrainedTokenizerBase
) -> None:
    async with slack_rig(real_core(Config(), store, ScriptedGenerator(), tokenizer), inbox=inbox_of(store)) as rig:
        body = json.dumps(event_callback(mention("hi there"))).replace("hi there", "hi \\ud800 there").encode()
        assert (await rig.sender.raw(body, "application/json", sign(SIGNING_SECRET, body))).status == 200
        update = (await rig.api.wait_for("chat.update"))[0]
        assert update.body["text"] == "Hello from the model."  # not the apology
        await asyncio.wait_for(rig.adapter.idle(), 5)
        [said, _] = await store.recent_messages(THREAD, 10)
        assert said.text == "hi \ufffd there"


async def test_edited_and_deleted_messages_change_the_stored_history(
    store: SqlStore, tokenizer: PreTrainedTokenizerBase
) -> None:
    generator = ScriptedGenerator()
    async with slack_rig(real_core(Config(), store, generator, tokenizer), inbox=inbox_of(store)) as rig:
        await rig.sender.event(mention("my number is five"))
        await rig.sender.event(mention("and then?", ts="1000.0003", thread_ts="1000.0001"))
        await rig.api.wait_for("chat.update", 2)
        await rig.sender.event(changed("1000.0001", "<@UBOT> my number is six", "<@UBOT> my number is five"))
        await rig.sender.event(deleted("1000.0003", thread_ts="1000.0001"))
        await asyncio.wait_for(rig.adapter.idle(), 5)
        texts = [m.text for m in await store.recent_messages(THREAD, 10)]
        assert texts == ["my number is six", "Hello from the model.", "Hello from the model."]
        await rig.sender.event(mention("what was it?", ts="1000.0007", thread_ts="1000.0001"))
        await rig.api.wait_for("chat.update", 3)
        prompt = str(tokenizer.decode(list(generator.requests[-1].prompt_ids)))
        assert "six" in prompt and "five" not in prompt and "and then?" not in prompt


THREAD = dataclasses.replace(C1, thread="1000.0001")


def changed(ts: str, text: str, before: str) -> dict[str, object]:
    return {
        "type": "message",
        "subtype": "message_changed",
        "channel": "C1",
        "channel_type": "channel",
        "hidden": True,
        "ts": "1000.0100",
        "message": {"type": "message", "user": "U1", "text": text, "ts": ts},
        "previous_message": {"type": "message", "user": "U1", "text": before, "ts": ts},
    }


def deleted(ts: str, thread_ts: str) -> dict[str, object]:
    return {
        "type": "message",
        "subtype": "message_deleted",
        "channel": "C1",
        "channel_type": "channel",
        "hidden": True,
        "deleted_ts": ts,
        "ts": "1000.0101",
        "previous_message": {"type": "message", "user": "U1", "text": "x", "ts": ts, "thread_ts": thread_ts},
    }
