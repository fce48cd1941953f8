"""End to end through the real core: discord.py over the fake gateway → ChatHandler → store → Discord.

Only the model is scripted (`ScriptedGenerator`); commands, permissions, settings, audit
rows, history and the busy path are the production code on the in-memory store.
"""

from __future__ import annotations

from bot import messages
from bot.errors import GenerationTimeout, QueueFull
from bot.events import ChannelRef
from bot.inference.tokenizer import packaged_tokenizer
from bot.store import Role, Store
from tests.fakes.core import ScriptedGenerator, build_core
from tests.fakes.discord_rig import discord_rig, eventually

MENTION = "<@1000>"
GENERAL = ChannelRef("discord", "100", "300")
EPHEMERAL = 1 << 6


async def test_set_from_a_member_without_permissions_is_refused_and_from_a_moderator_is_applied_and_audited() -> None:
    core = build_core()
    async with discord_rig(core.handler) as rig:
        w = rig.world
        refused = await rig.fake.push_command(w.general, w.alice, "set", {"key": "temperature", "value": "0.5"})
        [answer] = await rig.fake.wait_for("POST", rf"/webhooks/\d+/{refused['token']}")
        assert (answer.body["content"], answer.body["flags"]) == (messages.NOT_MODERATOR, EPHEMERAL)
        assert (await core.store.channel_state(GENERAL)).overrides == {}
        assert await core.store.audit_log(GENERAL, 10) == []

        applied = await rig.fake.push_command(w.general, w.manager, "set", {"key": "temperature", "value": "0.5"})
        [answer] = await rig.fake.wait_for("POST", rf"/webhooks/\d+/{applied['token']}")
        assert answer.body["content"] == messages.setting_changed("temperature", "0.8", "0.5")
        assert answer.body["flags"] == EPHEMERAL
        assert (await core.store.channel_state(GENERAL)).overrides == {"temperature": "0.5"}
        [row] = await core.store.audit_log(GENERAL, 10)
        assert (row.action, row.key, row.old_value, row.new_value) == ("set", "temperature", None, "0.5")
        assert (row.actor_id, row.actor_name, row.channel_key) == ("2002", "mallory", GENERAL.key)
        assert rig.posted() == []  # nothing visible in the channel


async def test_a_configured_moderator_role_may_change_settings() -> None:
    core = build_core()
    async with discord_rig(core.handler, moderator_roles=("Moderators",)) as rig:
        w = rig.world
        sent = await rig.fake.push_command(w.general, w.role_mod, "set", {"key": "top_k", "value": "10"})
        await rig.fake.wait_for("POST", rf"/webhooks/\d+/{sent['token']}")
        assert (await core.store.channel_state(GENERAL)).overrides == {"top_k": "10"}


async def test_a_thread_keeps_its_own_history() -> None:
    generator = ScriptedGenerator("Noted.")
    core = build_core(generator=generator)
    async with discord_rig(core.handler) as rig:
        w = rig.world
        await rig.fake.push_message(w.general, w.alice, f"{MENTION} remember the word pineapple", mentions=(w.bot,))
        await rig.replies(w.general)
        await rig.fake.push_message(w.thread, w.alice, f"{MENTION} what was the word?", mentions=(w.bot,))
        [in_thread] = await rig.replies(w.thread)
        await rig.fake.push_message(w.general, w.alice, f"{MENTION} and the word was?", mentions=(w.bot,))
        await rig.replies(w.general, count=2)
        prompts = [packaged_tokenizer().decode(list(r.prompt_ids)) for r in generator.requests]
        assert "pineapple" not in prompts[1]  # the thread starts its own conversation
        assert prompts[1] == "alice: what was the word?\nGPT-2:"
        assert "pineapple" in prompts[2] and "what was the word" not in prompts[2]
        assert in_thread.body["content"] == "Noted."
        thread = ChannelRef("discord", "100", "300", thread="310")
        assert [(m.role, m.text) for m in await core.store.recent_messages(thread, 10)] == [
            (Role.USER, "what was the word?"),
            (Role.BOT, "Noted."),
        ]


async def test_a_full_queue_becomes_a_busy_reply() -> None:
    generator = ScriptedGenerator()
    generator.error = QueueFull(messages.BUSY)
    async with discord_rig(build_core(generator=generator).handler) as rig:
        w = rig.world
        sent = await rig.fake.push_message(w.general, w.alice, f"{MENTION} are you there?", mentions=(w.bot,))
        [reply] = await rig.replies(w.general)
        assert reply.body["content"] == messages.BUSY
        assert reply.body["message_reference"]["message_id"] == int(sent["id"])
        assert reply.body["allowed_mentions"] == {"parse": []}


async def test_channel_chat_is_answered_only_after_a_moderator_enables_the_channel() -> None:
    core = build_core()
    async with discord_rig(core.handler) as rig:
        w = rig.world
        await rig.fake.push_message(w.general, w.alice, "anyone here?")
        await rig.fake.push_message(w.other, w.alice, f"{MENTION} barrier", mentions=(w.bot,))
        await rig.replies(w.other)
        assert rig.fake.find("POST", f"/channels/{w.general}/messages") == []

        sent = await rig.fake.push_command(w.general, w.manager, "enable")
        [answer] = await rig.fake.wait_for("POST", rf"/webhooks/\d+/{sent['token']}")
        assert answer.body["content"] == messages.enabled_changed(True)
        await rig.fake.push_message(w.general, w.alice, "now?")
        [reply] = await rig.replies(w.general)
        assert reply.body["content"] == "hello there"


async def test_a_slow_reply_is_previewed_in_one_message_that_becomes_the_reply() -> None:
    reply = "A slow and thoughtful answer, written word by word."
    generator = ScriptedGenerator(reply, delay_s=2.6)  # previews at ~1 s and ~2 s
    async with discord_rig(build_core(generator=generator).handler) as rig:
        w = rig.world
        sent = await rig.fake.push_message(w.general, w.alice, f"{MENTION} think about it", mentions=(w.bot,))
        [posted] = await rig.replies(w.general)
        assert posted.body["content"].endswith(" …") and reply.startswith(posted.body["content"][:-2])
        assert posted.body["message_reference"]["message_id"] == int(sent["id"])
        assert posted.body["allowed_mentions"] == {"parse": []}
        edited = r"/channels/300/messages/\d+"
        await rig.fake.wait_until(lambda: any(e.body["content"] == reply for e in rig.fake.find("PATCH", edited)))
        edits = rig.fake.find("PATCH", edited)
        message_id = max(rig.fake.messages)
        assert {e.path for e in edits} == {f"/channels/300/messages/{message_id}"}  # one message, edited
        assert all(e.body["content"].endswith(" …") for e in edits[:-1])  # longer previews, then the reply
        assert edits[-1].body["content"] == reply and all(e.body["allowed_mentions"] == {"parse": []} for e in edits)
        assert len(rig.posted()) == 1 and rig.fake.find("DELETE", r"/channels/.*") == []


async def test_a_preview_is_deleted_when_the_reply_turns_into_an_error() -> None:
    generator = ScriptedGenerator("Half an answer that never finishes", delay_s=1.6)
    generator.error = GenerationTimeout("too slow")
    async with discord_rig(build_core(generator=generator).handler) as rig:
        w = rig.world
        await rig.fake.push_message(w.general, w.alice, f"{MENTION} think about it", mentions=(w.bot,))
        [preview, error] = await rig.replies(w.general, count=2)
        assert preview.body["content"].endswith(" …")
        [deleted] = await rig.fake.wait_for("DELETE", r"/channels/300/messages/\d+")
        assert error.body["content"] == messages.TIMEOUT
        assert rig.fake.calls.index(deleted) < rig.fake.calls.index(error)  # gone before the apology


async def test_a_lone_surrogate_is_cleaned_before_the_tokenizer_sees_it() -> None:
    core = build_core(generator=ScriptedGenerator("Fine, thanks."))
    async with discord_rig(core.handler) as rig:
        w = rig.world
        await rig.fake.push_message(w.general, w.alice, f"{MENTION} how are you \ud83d?", mentions=(w.bot,))
        [reply] = await rig.replies(w.general)
        assert reply.body["content"] == "Fine, thanks."  # not the apology for a tokenizer error
        await eventually(lambda: stored(core.store, 2))
        [question, _] = await core.store.recent_messages(GENERAL, 10)
        assert question.text == "how are you \ufffd?"


async def test_edited_and_deleted_messages_change_the_stored_history() -> None:
    core = build_core(generator=ScriptedGenerator("Noted."))
    async with discord_rig(core.handler) as rig:
        w = rig.world
        first = await rig.fake.push_message(w.general, w.alice, f"{MENTION} my name is Bob", mentions=(w.bot,))
        await rig.replies(w.general)
        second = await rig.fake.push_message(w.general, w.alice, f"{MENTION} something rude", mentions=(w.bot,))
        await rig.replies(w.general, count=2)
        await eventually(lambda: stored(core.store, 4))
        await rig.fake.push_edit(int(first["id"]), f"{MENTION} my name is Rob")
        await rig.fake.push_delete(int(second["id"]))  # a moderator removed it
        await eventually(lambda: texts(core.store, ["my name is Rob", "Noted.", "Noted."]))


async def stored(store: Store, turns: int) -> bool:
    return len(await store.recent_messages(GENERAL, 10)) >= turns


async def texts(store: Store, wanted: list[str]) -> bool:
    return [m.text for m in await store.recent_messages(GENERAL, 10)] == wanted
