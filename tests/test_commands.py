"""The shared command grammar through the real CommandRunner, store and history."""

from __future__ import annotations

import pytest

from bot.commands import parse
from bot.errors import CommandError
from bot.events import Author, ChannelRef, Command, Event, ReplyKind
from bot.inference.types import ModelInfo
from tests.fakes.core import CoreRig, RecordingOutbox, ScriptedGenerator, build_core

WHERE = ChannelRef("discord", "g1", "c1")
MOD = Author("m1", "Mia", is_moderator=True)
MEMBER = Author("u1", "Ann")


def cmd(text: str, author: Author = MOD, where: ChannelRef = WHERE) -> Command:
    return Command(where, author, text, "msg-1")


@pytest.fixture
def rig() -> CoreRig:
    return build_core()


def test_parse() -> None:
    assert parse("set temperature 0.5").name == "set"
    assert parse("/gpt2 SET temperature 0.5").args == "temperature 0.5"
    assert parse("").name == "help"
    with pytest.raises(CommandError, match="frobnicate"):
        parse("frobnicate now")


async def test_set_out_of_bounds_names_the_bounds_and_changes_nothing(rig: CoreRig) -> None:
    reply = await rig.runner.run(cmd("set temperature 9"))
    assert reply.kind is ReplyKind.REFUSAL
    assert "from 0 to 2" in reply.text and "Nothing was changed" in reply.text
    assert (await rig.store.channel_state(WHERE)).overrides == {}
    assert await rig.store.audit_log(WHERE, 10) == []


async def test_moderator_set_changes_and_audits(rig: CoreRig) -> None:
    reply = await rig.runner.run(cmd("set temperature 0.5"))
    assert reply.kind is ReplyKind.COMMAND and reply.ephemeral
    assert reply.text == "temperature: 0.8 → 0.5"
    assert (await rig.store.channel_state(WHERE)).overrides == {"temperature": "0.5"}
    [entry] = await rig.store.audit_log(WHERE, 10)
    assert (entry.actor_id, entry.action, entry.key, entry.old_value, entry.new_value) == (
        "m1",
        "set",
        "temperature",
        None,
        "0.5",
    )


@pytest.mark.parametrize("text", ["set temperature 0.5", "unset top_k", "enable", "disable", "reset", "persona Arr"])
async def test_non_moderators_are_refused_and_nothing_changes(rig: CoreRig, text: str) -> None:
    reply = await rig.runner.run(cmd(text, author=MEMBER))
    assert reply.kind is ReplyKind.REFUSAL and "moderators" in reply.text.lower()
    assert await rig.store.audit_log(WHERE, 10) == []
    assert (await rig.store.channel_state(WHERE)).overrides == {}


async def test_unknown_key_lists_the_keys(rig: CoreRig) -> None:
    reply = await rig.runner.run(cmd("set temprature 0.5"))
    assert "temprature" in reply.text and "temperature" in reply.text
    reply = await rig.runner.run(cmd("set temperature"))
    assert "Usage: /gpt2 set <key> <value>" in reply.text


async def test_unset_show_persona_enable(rig: CoreRig) -> None:
    await rig.runner.run(cmd("set top_k 5"))
    assert "top_k = 5 *" in (await rig.runner.run(cmd("show", author=MEMBER))).text
    assert (await rig.runner.run(cmd("unset top_k"))).text == "top_k is back to the default (40)."
    assert (await rig.runner.run(cmd("persona You are a pirate."))).text == "Persona set: You are a pirate."
    assert (await rig.runner.run(cmd("persona", author=MEMBER))).text == "persona = You are a pirate."
    await rig.runner.run(cmd("enable"))
    assert (await rig.store.channel_state(WHERE)).enabled
    actions = [e.action for e in await rig.store.audit_log(WHERE, 10)]
    assert actions == ["enable", "set", "unset", "set"]


async def test_reset_forgets_and_cancels(rig: CoreRig) -> None:
    outbox = RecordingOutbox()
    await rig.handler.on_message(Event(WHERE, MEMBER, "hi", "m1", addressed=True), outbox)
    assert await rig.store.count_messages(WHERE) == 2
    reply = await rig.runner.run(cmd("reset"))
    assert reply.text == "Forgot 2 messages of this conversation."
    assert await rig.store.count_messages(WHERE) == 0
    assert isinstance(rig.generator, ScriptedGenerator) and rig.generator.cancelled == [WHERE.key]


async def test_status_shows_model_queue_history_and_trimming() -> None:
    info = ModelInfo("demo", "cpu", "float32", 1024, 7_000_000, 50256, is_demo=True)
    rig = build_core(generator=ScriptedGenerator(info=info))
    outbox = RecordingOutbox()
    for i in range(30):
        text = " ".join(f"word{i}x{j}" for j in range(40))
        await rig.handler.on_message(Event(WHERE, MOD, text, f"m{i}", addressed=True), outbox)
    status = (await rig.runner.run(cmd("status", author=MEMBER))).text
    assert "random" in status  # the demo warning
    assert "Model: demo on cpu (float32, 7.0M parameters)" in status
    assert "60 messages stored" in status
    assert "no longer fit in GPT-2's 1024-token window" in status


async def test_safety_command_without_safety(rig: CoreRig) -> None:
    reply = await rig.runner.run(cmd("safety show"))
    assert reply.kind is ReplyKind.REFUSAL and "not available" in reply.text
