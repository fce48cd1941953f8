"""`/gpt2 ...` over real HTTP: acked at once, moderators from users.info or config, ephemeral answers."""

from __future__ import annotations

import asyncio

from bot.events import Command, Reply, ReplyKind
from tests.fakes.slack_rig import ScriptedCore, slack_rig


async def test_command_is_acked_empty_and_answered_ephemerally_through_response_url() -> None:
    core = ScriptedCore()
    async with slack_rig(core) as rig:
        sent = await rig.sender.command("set top_p 0.9", response_url=rig.api.response_url("r7"))
        assert (sent.status, sent.text) == (200, "")  # nothing shown in the channel
        answer = (await rig.api.wait_for("response_url"))[0]
        assert answer.body == {"text": "ran set top_p 0.9", "response_type": "ephemeral", "name": "r7"}
        command = core.commands[0]
        assert (command.text, command.where.platform, command.where.workspace) == ("set top_p 0.9", "slack", "T1")
        assert (command.where.channel, command.where.thread, command.author.name) == ("C1", "", "Alice")


async def test_moderators_are_workspace_admins_or_listed_users() -> None:
    core = ScriptedCore()
    async with slack_rig(core, admin_users=("U2",)) as rig:
        rig.api.add_user("U2", "Listed")
        rig.api.add_user("UOWN", "Owner", owner=True)
        for user in ("U1", "UADMIN", "U2", "UOWN"):
            await rig.sender.command("show", user=user, response_url=rig.api.response_url())
        await rig.api.wait_for("response_url", 4)
        moderators = {c.author.id: c.author.is_moderator for c in core.commands}
        assert moderators == {"U1": False, "UADMIN": True, "U2": True, "UOWN": True}


async def test_users_info_is_cached_and_its_failure_grants_nothing() -> None:
    core = ScriptedCore()
    async with slack_rig(core) as rig:
        for _ in range(3):
            await rig.sender.command("status", user="UADMIN", response_url=rig.api.response_url())
        await rig.api.wait_for("response_url", 3)
        assert len(rig.api.calls_to("users.info")) == 1
        rig.api.fail("users.info", "ratelimited")
        await rig.sender.command("status", user="UNEW", response_url=rig.api.response_url())
        await rig.api.wait_for("response_url", 4)
        newcomer = core.commands[-1].author
        assert (newcomer.id, newcomer.name, newcomer.is_moderator) == ("UNEW", "UNEW", False)


async def test_command_answer_falls_back_to_post_ephemeral() -> None:
    core = ScriptedCore(command_answer=lambda cmd: Reply("not allowed", ReplyKind.REFUSAL))
    async with slack_rig(core) as rig:
        await rig.sender.command("reset", channel="C9", response_url="")  # no response_url
        call = (await rig.api.wait_for("chat.postEphemeral"))[0]
        assert (call.body["channel"], call.body["user"], call.body["text"]) == ("C9", "U1", "not allowed")


async def test_command_is_acked_while_the_core_is_still_busy() -> None:
    hold = asyncio.Event()

    class SlowCommands(ScriptedCore):
        async def on_command(self, command: Command, outbox: object) -> None:
            self.commands.append(command)
            await hold.wait()

    core = SlowCommands()
    async with slack_rig(core) as rig:
        sent = await rig.sender.command("status", response_url=rig.api.response_url())
        assert sent.status == 200 and sent.elapsed_s < 1.0
        await rig.api.settle()
        assert len(core.commands) == 1  # still running: stop() below must cancel it cleanly
        assert rig.adapter.pending == 1


async def test_command_in_a_dm_names_the_dm_like_its_messages() -> None:
    core = ScriptedCore()
    async with slack_rig(core) as rig:
        await rig.sender.command(
            "show", channel="D5", channel_name="directmessage", response_url=rig.api.response_url()
        )
        await rig.api.wait_for("response_url")
        assert (core.commands[0].where.workspace, core.commands[0].where.channel) == ("", "D5")
