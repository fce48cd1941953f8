"""The `safety ...` moderator commands: dry runs are bounded and explain themselves."""

from __future__ import annotations

import pytest

from bot import messages
from bot.errors import CommandError
from bot.events import Author, ChannelRef
from bot.safety import Checker, MemorySafetyStore, Preset, Safety
from bot.safety.commands import MAX_TEST_CHARS, run_command

WHERE = ChannelRef("discord", "g1", "c1")
MOD = Author("m1", "mod", is_moderator=True)


def _safety() -> Safety:
    return Safety(MemorySafetyStore(), Checker(), Preset.STANDARD)


async def test_safety_test_refuses_text_over_the_cap_with_the_limit() -> None:
    text = "a" * (MAX_TEST_CHARS + 1)
    with pytest.raises(CommandError) as err:
        await run_command(_safety(), f"test {text}", WHERE, MOD)
    assert str(err.value) == messages.safety_test_too_long(MAX_TEST_CHARS + 1, MAX_TEST_CHARS)
    assert str(MAX_TEST_CHARS) in str(err.value)


async def test_safety_test_at_the_cap_still_runs() -> None:
    reply, ephemeral = await run_command(_safety(), "test " + "-" * MAX_TEST_CHARS, WHERE, MOD)
    assert ephemeral and reply.startswith("input: allow")


async def test_safety_test_says_why_with_the_matched_words() -> None:
    reply, _ = await run_command(_safety(), "test Immigrants are vermin, mail me at a.b@example.com", WHERE, MOD)
    assert "slur_hate" in reply and "hate.dehum" in reply
    assert "immigrants … vermin" in reply  # the group and the word that dehumanises it
    assert "'a.b@example.com'" in reply  # a redacted span, as written


async def test_safety_test_of_ordinary_text_has_no_reasons() -> None:
    reply, _ = await run_command(_safety(), "test the spiciness of this curry", WHERE, MOD)
    assert reply.count("why: -") == 2 and "input: allow" in reply
