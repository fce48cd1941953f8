"""Edited and deleted messages reach the core from discord.py's raw events, cached or not.

Discord sends MESSAGE_UPDATE (the whole message, since API v10), MESSAGE_DELETE and
MESSAGE_DELETE_BULK; discord.py's cached-only `on_message_edit` / `on_message_delete`
would miss every message from before the last restart, so the adapter listens to the raw
events. The conversation is named exactly, threads included: a thread discord.py has
not cached (archived) is looked up through REST to find its parent channel.
"""

from __future__ import annotations

from bot.events import ChannelRef
from tests.fakes.discord_rig import ScriptedCore, discord_rig

MENTION = "<@1000>"
GENERAL = ChannelRef("discord", "100", "300")


async def test_an_edit_reaches_the_core_with_the_new_text_in_the_right_conversation() -> None:
    core = ScriptedCore()
    async with discord_rig(core) as rig:
        w = rig.world
        in_channel = await rig.fake.push_message(w.general, w.alice, f"{MENTION} first words", mentions=(w.bot,))
        in_thread = await rig.fake.push_message(w.thread, w.alice, "thread words")
        await rig.fake.push_edit(int(in_channel["id"]), f"{MENTION} second words")
        await rig.fake.push_edit(int(in_thread["id"]), "better thread words")
        await core.wait_for(changes=2)
        assert core.changes == [
            ("edited", GENERAL, in_channel["id"], "second words"),
            ("edited", ChannelRef("discord", "100", "300", thread="310"), in_thread["id"], "better thread words"),
        ]


async def test_deletions_single_and_bulk_reach_the_core_also_for_messages_discord_py_never_cached() -> None:
    core = ScriptedCore()
    async with discord_rig(core) as rig:
        w = rig.world
        # Sent before the bot started: discord.py has neither the messages nor the archived thread.
        old = [await rig.fake.push_message(w.general, w.alice, f"old {n}", dispatch=False) for n in range(3)]
        archived = await rig.fake.push_message(w.archived_thread, w.alice, "abuse", dispatch=False)
        dm = await rig.fake.push_message(w.dm, w.alice, "a dm")
        await rig.fake.push_delete(int(old[0]["id"]), int(old[1]["id"]))  # bulk, as a moderator's purge
        await rig.fake.push_delete(int(archived["id"]))
        await rig.fake.push_delete(int(dm["id"]))
        await core.wait_for(changes=4)
        assert sorted(core.changes, key=lambda change: int(change[2])) == [
            ("deleted", GENERAL, old[0]["id"], ""),
            ("deleted", GENERAL, old[1]["id"], ""),
            ("deleted", ChannelRef("discord", "100", "300", thread="311"), archived["id"], ""),
            ("deleted", ChannelRef("discord", "", "400"), dm["id"], ""),
        ]
        assert rig.fake.find("GET", "/channels/311")  # the thread's parent came from REST


async def test_the_bots_own_edits_and_updates_that_keep_the_text_are_not_edits_for_the_core() -> None:
    core = ScriptedCore()
    async with discord_rig(core) as rig:
        w = rig.world
        await rig.fake.push_message(w.general, w.alice, f"{MENTION} hi", mentions=(w.bot,))
        await rig.replies(w.general)
        ours = max(rig.fake.messages)
        await rig.fake.gateway.dispatch(
            "MESSAGE_UPDATE", {**rig.fake.messages[ours], "content": "edited by the bot itself"}
        )
        human = await rig.fake.push_message(w.other, w.alice, "see https://example.com")
        unfurled = {**human, "embeds": [{"type": "link", "url": "https://example.com"}]}
        await rig.fake.gateway.dispatch("MESSAGE_UPDATE", unfurled)  # a link preview appeared; same text
        await rig.fake.push_edit(int(human["id"]), "see the docs")  # barrier: a real edit
        await core.wait_for(changes=1)
        assert core.changes == [("edited", ChannelRef("discord", "100", "301"), human["id"], "see the docs")]
