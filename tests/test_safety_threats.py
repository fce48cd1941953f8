"""Threats need intent and a human object; harassment is aimed at the reader."""

from __future__ import annotations

import pytest

from bot.safety.categories import Category
from bot.safety.harms import detect_harms
from bot.safety.normalise import normalise


def score(text: str, category: Category) -> float:
    return max((h.score for h in detect_harms(normalise(text)) if h.category is category), default=0.0)


@pytest.mark.parametrize(
    "text",
    [
        "shoot the mods",
        "I'm going to break your legs",
        "i will end you",
        "i'll burn your house down",
        "i know where your kids go to school",
        "would be a shame if something happened to her",
        "i'm gonna beat the crap out of you",
        "someone should put a bullet in the admin",
        "i'm going to make you regret this",
    ],
)
def test_threats_in_plain_words(text: str) -> None:
    assert score(text, Category.THREAT) >= 0.8


@pytest.mark.parametrize(
    "text",
    [
        "shoot the mods a message if the bot breaks",
        "kill the process and restart it",
        "I'm gonna destroy you in ranked tonight",
        "i'll beat you at chess",
        "kill the boss first then loot the chest",
        "will you die?",
        "I would never hurt you",
    ],
)
def test_no_human_object_or_a_contest_is_no_threat(text: str) -> None:
    assert score(text, Category.THREAT) < 0.5


def test_harassment_aimed_at_the_reader() -> None:
    assert score("nobody wants you in this server", Category.HARASSMENT) >= 0.5
    assert score("you smelly virgin", Category.HARASSMENT) >= 0.5
    assert score("do everyone a favour and die", Category.HARASSMENT) >= 0.9
    assert score("ugly bitch", Category.HARASSMENT) >= 0.5
    assert score("you are not stupid", Category.HARASSMENT) == 0.0
