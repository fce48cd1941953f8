"""Messages an earlier run took but never answered are answered once the bot is back.

Each test leaves an event in the inbox the way a stopped or crashed process does (claimed,
then released or its lease run out), with the route the adapter stores, for a message
that exists on the fake Discord but is never delivered over the gateway again (Discord
does not redeliver). The adapter's recovery pass at start fetches it by id through REST.
"""

from __future__ import annotations

from typing import Any

import pytest

from adapters import discord as discord_adapter
from bot import messages
from storage.memory import MemoryInbox
from tests.fakes.discord_rig import ScriptedCore, discord_rig, eventually
from tests.fakes.discord_server import FakeDiscord

MENTION = "<@1000>"


async def left_unanswered(inbox: MemoryInbox, message: dict[str, Any]) -> str:
    """What a process that died mid-reply leaves: a claimed event whose lease has run out."""
    key = f"discord:{message['id']}"
    route = {"channel": message["channel_id"], "guild": message.get("guild_id", ""), "message": message["id"]}
    await inbox.claim(key, "discord", route)
    await inbox.release(key)
    return key


def bot_post(fake: FakeDiscord, question: dict[str, Any], content: str) -> dict[str, Any]:
    """A message of the bot's that an earlier run left in place of its reply to `question`."""
    return fake.post_as_bot(int(question["channel_id"]), content, reply_to=int(question["id"]))


async def test_a_message_left_unanswered_is_answered_after_the_restart_as_it_reads_now() -> None:
    fake, inbox = FakeDiscord(), MemoryInbox()
    w = fake.world
    asked = await fake.push_message(w.general, w.alice, f"{MENTION} are you there?", mentions=(w.bot,), dispatch=False)
    in_dm = await fake.push_message(w.dm, w.alice, "first words", dispatch=False)
    keys = [await left_unanswered(inbox, m) for m in (asked, in_dm)]
    fake.messages[int(in_dm["id"])]["content"] = "edited words"  # edited while the bot was away
    core = ScriptedCore()
    async with discord_rig(core, fake=fake, inbox=inbox) as rig:
        [reply] = await rig.replies(w.general)
        [dm_reply] = await rig.replies(w.dm)
        assert reply.body["content"] == "echo: are you there?"
        assert reply.body["message_reference"]["message_id"] == int(asked["id"])
        assert dm_reply.body["content"] == "echo: edited words"
        await eventually(lambda: all(inbox.entries[k].state == "done" for k in keys))
        assert sorted(e.message_id for e in core.events) == sorted([asked["id"], in_dm["id"]])


async def test_what_an_earlier_run_left_in_place_of_the_reply_is_replaced_by_it() -> None:
    fake, inbox = FakeDiscord(), MemoryInbox()
    w = fake.world
    half = await fake.push_message(w.general, w.alice, f"{MENTION} one", mentions=(w.bot,), dispatch=False)
    noted = await fake.push_message(w.thread, w.alice, f"{MENTION} two", mentions=(w.bot,), dispatch=False)
    preview = bot_post(fake, half, "Half a rep …")  # crashed mid-reply
    note = bot_post(fake, noted, messages.restarting(answer_later=True))  # stopped mid-reply
    for message in (half, noted):
        await left_unanswered(inbox, message)
    async with discord_rig(ScriptedCore(), fake=fake, inbox=inbox) as rig:
        await rig.fake.wait_for("PATCH", r"/channels/\d+/messages/\d+", count=2)
        assert rig.fake.messages[int(preview["id"])]["content"] == "echo: one"
        assert rig.fake.messages[int(note["id"])]["content"] == "echo: two"
        assert rig.posted() == []  # replaced in place, nothing new posted


async def test_a_message_deleted_or_no_longer_for_the_bot_is_not_answered() -> None:
    fake, inbox = FakeDiscord(), MemoryInbox()
    w = fake.world
    deleted = await fake.push_message(w.general, w.alice, f"{MENTION} never mind", mentions=(w.bot,), dispatch=False)
    changed = await fake.push_message(w.other, w.alice, f"{MENTION} hey", mentions=(w.bot,), dispatch=False)
    note = bot_post(fake, changed, messages.restarting(answer_later=True))
    keys = [await left_unanswered(inbox, m) for m in (deleted, changed)]
    del fake.messages[int(deleted["id"])]
    fake.messages[int(changed["id"])].update(content="talking to a friend", mentions=[])
    core = ScriptedCore(wants=lambda event: event.addressed)
    async with discord_rig(core, fake=fake, inbox=inbox) as rig:
        await eventually(lambda: all(inbox.entries[k].state == "done" for k in keys))
        await rig.fake.wait_for("DELETE", rf"/channels/{w.other}/messages/{note['id']}")  # the note goes too
        assert rig.posted() == [] and core.events == []


async def test_a_message_discord_could_not_serve_is_tried_again_on_the_next_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(discord_adapter, "RECOVER_EVERY_S", 0.1)
    fake, inbox = FakeDiscord(), MemoryInbox()
    w = fake.world
    asked = await fake.push_message(w.general, w.alice, f"{MENTION} hello?", mentions=(w.bot,), dispatch=False)
    key = await left_unanswered(inbox, asked)
    fake.rate_limit("GET", rf"/channels/300/messages/{asked['id']}", 3600.0, times=1)  # beyond what the bot waits
    async with discord_rig(ScriptedCore(), fake=fake, inbox=inbox) as rig:
        [reply] = await rig.replies(w.general)
        assert reply.body["content"] == "echo: hello?"
        assert len(rig.fake.find("GET", rf"/channels/300/messages/{asked['id']}")) == 2
        await eventually(lambda: inbox.entries[key].state == "done")
        assert inbox.entries[key].attempts == 3  # the dead run's, and two passes of this one
