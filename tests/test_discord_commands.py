"""`/gpt2 ...` slash commands through the real discord.py client: sync, defer, follow-up, autocomplete."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters import discord_handlings
from adapters.discord_commands import command_payload
from bot import messages
from bot.commands import COMMANDS
from bot.events import ChannelRef, Command, Outbox, Reply, ReplyKind
from tests.fakes.core import RecordingOutbox
from tests.fakes.discord_rig import Rig, ScriptedCore, discord_rig
from tests.fakes.discord_server import GLOBAL, FakeDiscord, RestCall

EPHEMERAL = 1 << 6


async def test_command_is_deferred_ephemerally_then_answered_by_an_ephemeral_follow_up() -> None:
    core = ScriptedCore()
    async with discord_rig(core) as rig:
        w = rig.world
        sent = await rig.fake.push_command(w.general, w.manager, "set", {"key": "temperature", "value": "0.5"})
        [follow_up] = await rig.fake.wait_for("POST", rf"/webhooks/{w.bot.id}/{sent['token']}")
        [callback] = rig.fake.find("POST", rf"/interactions/{sent['id']}/{sent['token']}/callback")
        assert callback.body == {"type": 5, "data": {"flags": EPHEMERAL}}  # "thinking…", only for the author
        assert rig.fake.calls.index(callback) < rig.fake.calls.index(follow_up)
        assert follow_up.body["content"] == "ran set temperature 0.5"
        assert follow_up.body["flags"] == EPHEMERAL and follow_up.body["allowed_mentions"] == {"parse": []}
        [command] = core.commands
        assert command.text == "set temperature 0.5" and command.message_id == sent["id"]
        assert command.where == ChannelRef("discord", "100", "300")
        assert (command.author.id, command.author.name, command.author.is_moderator) == ("2002", "mallory", True)


async def test_members_without_permissions_or_role_are_not_moderators() -> None:
    core = ScriptedCore()
    async with discord_rig(core, moderator_roles=("201",)) as rig:
        w = rig.world
        for person in (w.alice, w.role_mod):
            await rig.fake.push_command(w.general, person, "show")
        await core.wait_for(commands=2)
        assert {c.author.name: c.author.is_moderator for c in core.commands} == {"alice": False, "rolf": True}


async def test_command_in_a_thread_names_the_thread_and_in_a_dm_has_no_workspace() -> None:
    core = ScriptedCore()
    async with discord_rig(core) as rig:
        w = rig.world
        await rig.fake.push_command(w.thread, w.alice, "reset")
        await core.wait_for(commands=1)
        await rig.fake.push_command(w.dm, w.alice, "persona", {"text": "a  pirate who loves tea "})
        await core.wait_for(commands=2)
        thread, dm = core.commands
        assert thread.where == ChannelRef("discord", "100", str(w.general), thread=str(w.thread))
        assert dm.where == ChannelRef("discord", "", str(w.dm)) and dm.author.is_moderator
        assert dm.text == "persona a  pirate who loves tea"


async def test_setting_keys_autocomplete_from_the_settings_schema() -> None:
    async with discord_rig(ScriptedCore()) as rig:
        w = rig.world
        sent = await rig.fake.push_command(w.general, w.manager, "set", {"key": "top"}, focused="key")
        [callback] = await rig.fake.wait_for("POST", rf"/interactions/{sent['id']}/.+/callback")
        assert callback.body["type"] == 8
        choices = callback.body["data"]["choices"]
        assert [c["value"] for c in choices] == ["top_k", "top_p"]
        assert all(len(c["name"]) <= 100 and c["name"].startswith(c["value"]) for c in choices)


async def test_commands_sync_globally_with_every_subcommand_and_default_permissions() -> None:
    async with discord_rig(ScriptedCore()) as rig:
        [put] = rig.fake.find("PUT", rf"/applications/{rig.world.bot.id}/commands")
        [command] = put.body
        assert command["name"] == "gpt2" and command["type"] == 1
        assert [o["name"] for o in command["options"]] == list(COMMANDS)  # the core's whole grammar
        assert all(o["type"] == 1 and len(o["description"]) <= 100 for o in command["options"])
        assert command["default_member_permissions"] == str(1 << 4)  # Manage Channels
        assert command["contexts"] == [0, 1]  # servers and DMs with the bot
        options = {o["name"]: o["options"] for o in command["options"]}
        assert [(o["name"], o["type"], o["required"], o.get("autocomplete")) for o in options["set"]] == [
            ("key", 3, True, True),
            ("value", 3, True, None),
        ]
        assert rig.fake.find("PUT", r"/applications/\d+/guilds/\d+/commands") == []


async def test_commands_sync_to_configured_guilds_and_can_be_shown_to_everyone() -> None:
    async with discord_rig(ScriptedCore(), command_guilds=("100",), restrict_commands=False) as rig:
        [put] = rig.fake.find("PUT", rf"/applications/{rig.world.bot.id}/guilds/100/commands")
        assert put.body[0]["default_member_permissions"] is None and "contexts" not in put.body[0]
        assert rig.fake.find("PUT", rf"/applications/{rig.world.bot.id}/commands") == []


async def test_long_answers_are_split_and_a_failing_core_gets_an_apology() -> None:
    def answer(command: Command) -> Reply:
        if command.text == "status":
            raise RuntimeError("boom")
        return Reply("word " * 900, ReplyKind.COMMAND, ephemeral=True)

    async with discord_rig(ScriptedCore(command_answer=answer)) as rig:
        w = rig.world
        shown = await rig.fake.push_command(w.general, w.alice, "show")
        pieces = await rig.fake.wait_for("POST", rf"/webhooks/\d+/{shown['token']}", count=3)
        assert "".join(p.body["content"] for p in pieces) == "word " * 900
        assert all(len(p.body["content"]) <= 2000 and p.body["flags"] == EPHEMERAL for p in pieces)
        failed = await rig.fake.push_command(w.general, w.alice, "status")
        [apology] = await rig.fake.wait_for("POST", rf"/webhooks/\d+/{failed['token']}")
        assert apology.body["content"] == messages.ERROR


async def callback_of(rig: Rig, sent: dict[str, Any]) -> RestCall:
    [callback] = await rig.fake.wait_for("POST", rf"/interactions/{sent['id']}/.+/callback")
    return callback


async def test_interactions_that_are_not_the_live_gpt2_get_an_ephemeral_answer_instead_of_silence() -> None:
    core = ScriptedCore()
    async with discord_rig(core) as rig:
        w = rig.world
        other = await rig.fake.push_command(w.general, w.alice, "play", name="music")  # an old command of this app
        group = {"id": "5000", "name": "gpt2", "type": 1, "options": [{"type": 2, "name": "admin", "options": []}]}
        grouped = await rig.fake.push_interaction(w.general, w.alice, group)
        button = await rig.fake.push_interaction(w.general, w.alice, {"custom_id": "x", "component_type": 2}, kind=3)
        for sent in (other, grouped, button):
            callback = await callback_of(rig, sent)
            assert callback.body["type"] == 4  # a message, at once (no "thinking…")
            assert callback.body["data"]["content"] == messages.DISCORD_FOREIGN_COMMAND
            assert callback.body["data"]["flags"] == EPHEMERAL
        await rig.fake.push_command(w.general, w.alice, "help")
        await core.wait_for(commands=1)
        assert [c.text for c in core.commands] == ["help"]


async def test_guild_sync_deletes_the_global_gpt2_and_answers_a_stale_copy() -> None:
    fake = FakeDiscord()
    stale = fake.register(command_payload(restrict=True, allow_dms=True, global_scope=True))  # an earlier global sync
    foreign = fake.register({"name": "music", "type": 1, "description": "not ours"})
    core = ScriptedCore()
    async with discord_rig(core, fake=fake, command_guilds=("100",)) as rig:
        w = rig.world
        assert [c["name"] for c in rig.fake.commands["100"]] == ["gpt2"]
        assert rig.fake.commands[GLOBAL] == [foreign]  # only /gpt2 is removed
        assert rig.fake.find("DELETE", rf"/applications/{w.bot.id}/commands/{stale['id']}")
        # Discord clients cache commands for a while: someone still uses the old global copy.
        used = await rig.fake.push_command(w.general, w.alice, "help")
        callback = await callback_of(rig, used)
        assert callback.body["data"]["content"] == messages.DISCORD_STALE_COMMAND
        assert callback.body["data"]["flags"] == EPHEMERAL
        live = await rig.fake.push_command(w.general, w.alice, "help", registered_in=w.guild_id)
        await core.wait_for(commands=1)
        assert [c.message_id for c in core.commands] == [live["id"]]


async def test_global_sync_deletes_server_copies_of_gpt2_and_a_used_stale_copy() -> None:
    fake = FakeDiscord()
    world = fake.world
    copy = fake.register(command_payload(restrict=True, allow_dms=True, global_scope=False), guild_id=world.guild_id)
    async with discord_rig(ScriptedCore(), fake=fake) as rig:
        w = rig.world
        [deleted] = await rig.fake.wait_for("DELETE", rf"/applications/{w.bot.id}/guilds/100/commands/\d+")
        assert deleted.path.endswith(f"/{copy['id']}") and rig.fake.commands["100"] == []
        used = await rig.fake.push_command(w.general, w.alice, "show", registered_in=w.guild_id)
        callback = await callback_of(rig, used)
        assert callback.body["data"]["content"] == messages.DISCORD_STALE_COMMAND
        # The copy it came from is deleted at once (a server beyond the start-up sweep's reach).
        await rig.fake.wait_for("DELETE", rf"/applications/{w.bot.id}/guilds/100/commands/5000")


async def test_commands_beyond_the_in_flight_limit_are_answered_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discord_handlings, "MAX_PENDING", 1)
    core = ScriptedCore(hold=asyncio.Event())
    async with discord_rig(core) as rig:
        w = rig.world
        await rig.fake.push_message(w.general, w.alice, "<@1000> take your time", mentions=(w.bot,))
        await core.wait_for(events=1)
        sent = await rig.fake.push_command(w.general, w.alice, "status")
        callback = await callback_of(rig, sent)
        assert (callback.body["type"], callback.body["data"]["content"]) == (4, messages.BUSY)
        assert callback.body["data"]["flags"] == EPHEMERAL and core.commands == []
        assert core.hold is not None
        core.hold.set()


async def test_a_command_cut_off_by_a_stop_is_told_to_try_again() -> None:
    class Stuck(ScriptedCore):
        async def on_command(self, command: Command, outbox: Outbox) -> None:
            await super().on_command(command, RecordingOutbox())  # records it, answers nowhere
            await asyncio.Event().wait()  # never answers

    core = Stuck()
    async with discord_rig(core) as rig:
        w = rig.world
        sent = await rig.fake.push_command(w.general, w.alice, "status")
        await core.wait_for(commands=1)
        await rig.adapter.pause()
        paused = await rig.fake.push_command(w.general, w.alice, "show")
        callback = await callback_of(rig, paused)
        assert callback.body["data"]["content"] == messages.restarting(answer_later=False)
        await rig.adapter.stop()
        [note] = rig.fake.find("POST", rf"/webhooks/\d+/{sent['token']}")  # replaces "thinking…"
        assert note.body["content"] == messages.restarting(answer_later=False)
        assert note.body["flags"] == EPHEMERAL
