"""Presets, the hard floor and channel → workspace → global resolution."""

from __future__ import annotations

import pytest

from bot.events import ChannelRef
from bot.safety.categories import Action, Category, Direction
from bot.safety.policy import FLOOR, PolicyConfig, Preset, Scope, preset_rules, resolve
from bot.safety.rules import WordLists
from bot.safety.store import MemorySafetyStore, scope_keys

C, D, A = Category, Direction, Action


@pytest.mark.parametrize("preset", list(Preset))
def test_every_preset_respects_the_floor(preset: Preset) -> None:
    rules = preset_rules(preset)
    for (category, direction), (least, highest) in FLOOR.items():
        rule = rules[(category, direction)]
        assert rule.action >= least and rule.threshold <= highest, (preset, category, direction)


def test_strict_is_stricter_than_relaxed() -> None:
    strict, relaxed = preset_rules(Preset.STRICT), preset_rules(Preset.RELAXED)
    assert strict[(C.PROFANITY, D.OUTPUT)].action > relaxed[(C.PROFANITY, D.OUTPUT)].action
    assert strict[(C.SLUR_HATE, D.INPUT)].threshold < relaxed[(C.SLUR_HATE, D.INPUT)].threshold


def test_channel_beats_workspace_beats_global() -> None:
    g = PolicyConfig(Scope.GLOBAL, "", Preset.RELAXED, version=1)
    w = PolicyConfig(Scope.WORKSPACE, "discord:1", Preset.STRICT, blocked_words=frozenset({"blorp"}), version=2)
    c = PolicyConfig(Scope.CHANNEL, "discord:1:9", overrides=((C.LINK, D.INPUT, A.BLOCK),), version=3)
    policy = resolve([g, w, c])
    assert policy.preset is Preset.STRICT  # the channel set no preset: the workspace's wins
    assert policy.rule(C.LINK, D.INPUT).action is A.BLOCK
    assert policy.words == WordLists(blocked=frozenset({"blorp"}))
    assert policy.version == "global:1/workspace:2/channel:3"
    assert resolve([g]).preset is Preset.RELAXED
    assert resolve([]).preset is Preset.STANDARD


def test_overrides_cannot_go_below_the_floor() -> None:
    sneaky = PolicyConfig(
        Scope.CHANNEL,
        "x",
        Preset.RELAXED,
        overrides=((C.SEXUAL_MINORS, D.INPUT, A.ALLOW), (C.SLUR_HATE, D.OUTPUT, A.FLAG), (C.SECRET, D.OUTPUT, A.ALLOW)),
    )
    policy = resolve([sneaky])
    assert policy.rule(C.SEXUAL_MINORS, D.INPUT).action is A.BLOCK
    assert policy.rule(C.SLUR_HATE, D.OUTPUT).action is A.BLOCK
    assert policy.rule(C.SECRET, D.OUTPUT).action is A.REDACT


def test_allowed_words_win_over_blocked_ones() -> None:
    w = PolicyConfig(Scope.WORKSPACE, "k", blocked_words=frozenset({"heck"}))
    c = PolicyConfig(Scope.CHANNEL, "k:c", allowed_words=frozenset({"heck"}))
    assert resolve([w, c]).words == WordLists(allowed=frozenset({"heck"}))


def test_scope_keys_and_threads_share_the_channel() -> None:
    thread = ChannelRef("discord", "1", "9", thread="77")
    assert scope_keys(thread) == scope_keys(thread.parent)
    assert [s for s, _ in scope_keys(ChannelRef("console", "", "c"))] == [Scope.GLOBAL, Scope.CHANNEL]


async def test_memory_store_bumps_versions() -> None:
    store = MemorySafetyStore()
    first = await store.put_policy(PolicyConfig(Scope.CHANNEL, "k", Preset.STRICT), "mod1")
    second = await store.put_policy(PolicyConfig(Scope.CHANNEL, "k", Preset.RELAXED), "mod2")
    assert (first.version, second.version, second.updated_by) == (1, 2, "mod2")
    assert (await store.get_policy(Scope.CHANNEL, "k")) == second
