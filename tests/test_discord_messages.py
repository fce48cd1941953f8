"""Chat messages through the real discord.py client: who is answered, where, and how it is rendered.

Every test runs `DiscordAdapter` against the fake gateway + REST server and asserts on
the REST calls the bot made. To show that something did NOT get an answer, a later
message that does get one serves as a barrier: the gateway delivers in order and the
adapter decides before its first await, so once the later reply exists, the earlier
message was already dropped.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from adapters import discord_handlings
from adapters.discord_render import MESSAGE_LIMIT
from bot import messages
from bot.events import Author, ChannelRef, Event
from storage.memory import MemoryInbox
from tests.fakes.discord_rig import ScriptedCore, discord_rig, eventually

MENTION = "<@1000>"


async def test_mention_gets_a_reply_in_the_same_channel_with_no_mentions_allowed() -> None:
    core = ScriptedCore()
    async with discord_rig(core) as rig:
        w = rig.world
        sent = await rig.fake.push_message(w.general, w.alice, f"{MENTION} hello there", mentions=(w.bot,))
        [reply] = await rig.replies(w.general)
        assert reply.body["content"] == "echo: hello there"
        assert reply.body["allowed_mentions"] == {"parse": []}
        assert reply.body["message_reference"]["message_id"] == int(sent["id"])
        assert rig.fake.find("POST", f"/channels/{w.general}/typing")  # typing while generating
        [event] = core.events
        assert event == Event(
            where=ChannelRef("discord", "100", "300"),
            author=Author("2001", "alice"),
            text="hello there",
            message_id=sent["id"],
            addressed=True,
        )


async def test_long_reply_is_split_into_messages_that_join_back_to_the_whole_text() -> None:
    sentence = "GPT-2 writes a fairly long sentence about nothing in particular. "
    text = (sentence * 80).strip()  # ~5,000 characters
    assert 4_900 < len(text) < 5_300
    async with discord_rig(ScriptedCore(answer=lambda event: text)) as rig:
        w = rig.world
        await rig.fake.push_message(w.general, w.alice, f"{MENTION} talk", mentions=(w.bot,))
        replies = await rig.replies(w.general, count=3)
        await rig.fake.push_message(w.other, w.alice, f"{MENTION} barrier", mentions=(w.bot,))
        await rig.replies(w.other)
        pieces = [call.body["content"] for call in rig.fake.find("POST", f"/channels/{w.general}/messages")]
        assert len(pieces) == 3 and all(len(p) <= MESSAGE_LIMIT for p in pieces)
        assert "".join(pieces) == text
        assert all(p.endswith(". ") or p == pieces[-1] for p in pieces)  # cut at sentence ends
        assert all(call.body["allowed_mentions"] == {"parse": []} for call in replies)
        assert "message_reference" in replies[0].body and "message_reference" not in replies[1].body


async def test_other_bots_are_ignored_and_the_bots_own_echo_never_reaches_the_core() -> None:
    core = ScriptedCore()
    async with discord_rig(core) as rig:
        w = rig.world
        await rig.fake.push_message(w.general, w.other_bot, f"{MENTION} loop with me", mentions=(w.bot,))
        human = await rig.fake.push_message(w.general, w.alice, f"{MENTION} hi", mentions=(w.bot,))
        [reply] = await rig.replies(w.general)
        assert reply.body["message_reference"]["message_id"] == int(human["id"])
        # The fake echoes the bot's own post back as MESSAGE_CREATE, like Discord; a second
        # human message proves the echo was processed (and dropped) before it.
        await rig.fake.push_message(w.other, w.alice, f"{MENTION} again", mentions=(w.bot,))
        await rig.replies(w.other)
        assert [e.author.id for e in core.events] == ["2001", "2001"]
        assert len(rig.posted()) == 2


async def test_other_bots_are_answered_when_allow_bots_is_on_but_never_itself() -> None:
    core = ScriptedCore()
    async with discord_rig(core, allow_bots=True) as rig:
        w = rig.world
        await rig.fake.push_message(w.general, w.other_bot, f"{MENTION} hello bot", mentions=(w.bot,))
        [reply] = await rig.replies(w.general)
        await rig.fake.push_message(w.other, w.alice, f"{MENTION} barrier", mentions=(w.bot,))
        await rig.replies(w.other)
        assert reply.body["content"] == "echo: hello bot"
        assert [(e.author.id, e.author.is_bot) for e in core.events] == [("2004", True), ("2001", False)]


async def test_thread_message_is_its_own_conversation_and_is_answered_in_the_thread() -> None:
    core = ScriptedCore()
    async with discord_rig(core) as rig:
        w = rig.world
        await rig.fake.push_message(w.thread, w.alice, f"{MENTION} in the thread", mentions=(w.bot,))
        [reply] = await rig.replies(w.thread)
        assert reply.body["content"] == "echo: in the thread"
        where = core.events[0].where
        assert (where.workspace, where.channel, where.thread) == ("100", str(w.general), str(w.thread))
        assert where.key != where.parent.key and where.parent == ChannelRef("discord", "100", "300")


async def test_dm_is_addressed_without_a_mention_and_has_no_workspace() -> None:
    core = ScriptedCore()
    async with discord_rig(core) as rig:
        w = rig.world
        await rig.fake.push_message(w.dm, w.alice, "just a dm")
        [reply] = await rig.replies(w.dm)
        assert reply.body["content"] == "echo: just a dm"
        event = core.events[0]
        assert (event.is_dm, event.addressed, event.where) == (True, True, ChannelRef("discord", "", "400"))


async def test_dms_are_ignored_when_allow_dms_is_off() -> None:
    core = ScriptedCore()
    async with discord_rig(core, allow_dms=False) as rig:
        w = rig.world
        await rig.fake.push_message(w.dm, w.alice, "anyone?")
        await rig.fake.push_message(w.general, w.alice, f"{MENTION} barrier", mentions=(w.bot,))
        await rig.replies(w.general)
        assert [e.where.channel for e in core.events] == ["300"]
        assert rig.fake.find("POST", f"/channels/{w.dm}/messages") == []
        assert not rig.fake.gateway.identifies[0]["intents"] & (1 << 12)  # no DM intent asked for


async def test_unaddressed_channel_message_reaches_the_core_marked_not_addressed_and_gets_no_reply() -> None:
    core = ScriptedCore()
    async with discord_rig(core) as rig:
        w = rig.world
        await rig.fake.push_message(w.general, w.alice, "just chatting with friends")
        await rig.fake.push_message(w.other, w.alice, f"{MENTION} barrier", mentions=(w.bot,))
        await rig.replies(w.other)
        assert [(e.text, e.addressed) for e in core.events] == [
            ("just chatting with friends", False),
            ("barrier", True),
        ]
        assert rig.fake.find("POST", f"/channels/{w.general}/messages") == []


async def test_reply_to_one_of_the_bots_messages_is_addressed_without_a_mention() -> None:
    core = ScriptedCore()
    async with discord_rig(core) as rig:
        w = rig.world
        await rig.fake.push_message(w.general, w.alice, f"{MENTION} first", mentions=(w.bot,))
        [first] = await rig.replies(w.general)
        bot_message_id = max(rig.fake.messages)  # the id the fake gave the bot's post
        assert rig.fake.messages[bot_message_id]["author"]["id"] == str(w.bot.id)
        await rig.fake.push_message(w.general, w.alice, "and a follow-up", reply_to=bot_message_id)
        replies = await rig.replies(w.general, count=2)
        assert replies[1].body["content"] == "echo: and a follow-up"
        assert core.events[-1].addressed and first.body["content"] == "echo: first"


async def test_generated_mass_and_role_mentions_are_neutralised() -> None:
    core = ScriptedCore(answer=lambda event: "Hey @everyone and @here, ping <@&201>!")
    async with discord_rig(core) as rig:
        w = rig.world
        await rig.fake.push_message(w.general, w.alice, f"{MENTION} shout", mentions=(w.bot,))
        [reply] = await rig.replies(w.general)
        content = reply.body["content"]
        assert "@everyone" not in content and "@here" not in content and "<@&201>" not in content
        assert content.replace("\u200b", "") == "Hey @everyone and @here, ping <@&201>!"
        assert reply.body["allowed_mentions"] == {"parse": []}


async def test_moderators_come_from_manage_channels_or_a_configured_role() -> None:
    core = ScriptedCore()
    async with discord_rig(core, moderator_roles=("moderators",)) as rig:
        w = rig.world
        for person in (w.alice, w.manager, w.role_mod):
            await rig.fake.push_message(w.general, person, f"{MENTION} hi", mentions=(w.bot,))
        await rig.replies(w.general, count=3)
        assert {e.author.name: e.author.is_moderator for e in core.events} == {
            "alice": False,
            "mallory": True,
            "rolf": True,
        }


async def test_a_failed_send_is_logged_and_the_bot_keeps_answering(caplog: pytest.LogCaptureFixture) -> None:
    core = ScriptedCore()
    async with discord_rig(core) as rig:
        w = rig.world
        rig.fake.fail_next("POST", f"/channels/{w.general}/messages", status=403, code=50013)
        rig.fake.fail_next("POST", f"/channels/{w.other}/typing", status=403, code=50013)
        with caplog.at_level(logging.WARNING, logger="adapters"):
            await rig.fake.push_message(w.general, w.alice, f"{MENTION} one", mentions=(w.bot,))
            await rig.replies(w.general)  # the refused attempt is recorded too
            await rig.fake.push_message(w.other, w.alice, f"{MENTION} two", mentions=(w.bot,))
            [second] = await rig.replies(w.other)
        assert second.body["content"] == "echo: two"  # typing failed, the reply still went out
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert any("reply failed in channel 300" in m and "HTTP 403" in m and "50013" in m for m in errors)
        assert any("typing indicator failed in channel 301" in m for m in errors)


async def test_an_exception_in_the_core_costs_one_reply_and_the_user_gets_an_apology(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def answer(event: Event) -> str:
        if event.text == "explode":
            raise RuntimeError("secret internal detail")
        return "fine"

    async with discord_rig(ScriptedCore(answer=answer)) as rig:
        w = rig.world
        with caplog.at_level(logging.ERROR, logger="adapters"):
            await rig.fake.push_message(w.general, w.alice, f"{MENTION} explode", mentions=(w.bot,))
            [apology] = await rig.replies(w.general)
        await rig.fake.push_message(w.general, w.alice, f"{MENTION} again", mentions=(w.bot,))
        replies = await rig.replies(w.general, count=2)
        assert apology.body["content"] == messages.ERROR
        assert "secret" not in apology.body["content"] and replies[1].body["content"] == "fine"
        assert any(r.exc_info and "secret internal detail" in str(r.exc_info[1]) for r in caplog.records)


async def test_a_mention_of_the_bots_managed_role_counts_as_a_mention_and_is_removed() -> None:
    core = ScriptedCore()
    async with discord_rig(core) as rig:
        w = rig.world
        role = f"<@&{w.bot_role}>"
        await rig.fake.push_message(w.general, w.alice, f"{role} hello via the role", role_mentions=(w.bot_role,))
        [reply] = await rig.replies(w.general)
        assert reply.body["content"] == "echo: hello via the role"
        other = f"<@&{w.mod_role}>"  # another role is neither a mention of the bot nor removed
        await rig.fake.push_message(w.general, w.alice, f"{other} meeting at 5", role_mentions=(w.mod_role,))
        await rig.fake.push_message(w.other, w.alice, f"{MENTION} barrier", mentions=(w.bot,))
        await rig.replies(w.other)
        assert [(e.text, e.addressed) for e in core.events] == [
            ("hello via the role", True),
            ("@Moderators meeting at 5", False),
            ("barrier", True),
        ]


async def test_invalid_unicode_and_control_characters_never_reach_the_core() -> None:
    core = ScriptedCore()
    async with discord_rig(core, moderator_roles=("Moderators",)) as rig:
        w = rig.world
        # Valid JSON (the fake escapes it as \\ud800), but a lone surrogate is not valid Unicode.
        await rig.fake.push_message(w.general, w.alice, f"{MENTION} hi \ud800 there\x00!", mentions=(w.bot,))
        await rig.replies(w.general)
        await rig.fake.push_command(w.general, w.alice, "persona", {"text": "a \udfff pirate\x07"})
        await core.wait_for(commands=1)
        assert core.events[0].text == "hi \ufffd there!"
        assert core.commands[0].text == "persona a \ufffd pirate"


async def test_messages_beyond_the_in_flight_limit_are_answered_busy_not_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(discord_handlings, "MAX_PENDING", 2)
    core = ScriptedCore(hold=asyncio.Event())
    async with discord_rig(core) as rig:
        w = rig.world
        for n in range(2):
            await rig.fake.push_message(w.general, w.alice, f"{MENTION} slow {n}", mentions=(w.bot,))
        await core.wait_for(events=2)
        third = await rig.fake.push_message(w.other, w.alice, f"{MENTION} one more", mentions=(w.bot,))
        [busy] = await rig.replies(w.other)
        assert busy.body["content"] == messages.BUSY
        assert busy.body["message_reference"]["message_id"] == int(third["id"])
        assert core.hold is not None
        core.hold.set()
        replies = await rig.replies(w.general, count=2)
        assert sorted(r.body["content"] for r in replies) == ["echo: slow 0", "echo: slow 1"]


async def test_each_message_the_core_may_answer_is_claimed_before_it_is_handled_and_done_after() -> None:
    inbox = MemoryInbox()
    claimed_first: list[bool] = []

    def answer(event: Event) -> str:
        claimed_first.append(f"discord:{event.message_id}" in inbox.entries)
        return "ok"

    core = ScriptedCore(answer=answer, wants=lambda event: event.addressed)
    async with discord_rig(core, inbox=inbox) as rig:
        w = rig.world
        chat = await rig.fake.push_message(w.general, w.alice, "just chatting")  # not for the bot: no write
        sent = await rig.fake.push_message(w.thread, w.alice, f"{MENTION} in a thread", mentions=(w.bot,))
        await rig.replies(w.thread)
        await eventually(lambda: inbox.entries[f"discord:{sent['id']}"].state == "done")
        assert claimed_first == [True]
        assert f"discord:{chat['id']}" not in inbox.entries and [e.text for e in core.events] == ["in a thread"]
        assert inbox.entries[f"discord:{sent['id']}"].route == {"channel": "310", "guild": "100", "message": sent["id"]}
        await rig.fake.gateway.dispatch("MESSAGE_CREATE", rig.fake.messages[int(sent["id"])])  # delivered again
        await rig.fake.push_message(w.other, w.alice, f"{MENTION} barrier", mentions=(w.bot,))
        await rig.replies(w.other)
        assert len(rig.fake.find("POST", f"/channels/{w.thread}/messages")) == 1  # answered once


async def test_while_stopping_a_new_message_is_kept_for_after_the_restart_with_a_note() -> None:
    core = ScriptedCore()
    inbox = MemoryInbox()
    async with discord_rig(core, inbox=inbox) as rig:
        w = rig.world
        await rig.adapter.pause()
        sent = await rig.fake.push_message(w.general, w.alice, f"{MENTION} are you there?", mentions=(w.bot,))
        [note] = await rig.replies(w.general)
        assert note.body["content"] == messages.restarting(answer_later=True)
        assert note.body["message_reference"]["message_id"] == int(sent["id"])
        assert core.events == []
        key = f"discord:{sent['id']}"
        await eventually(lambda: key in inbox.entries and inbox.entries[key].lease_until < datetime.now(UTC))
        [kept] = await inbox.orphans("discord", timedelta(minutes=5), 10)  # what a restarted bot finds
        assert kept.key == key
