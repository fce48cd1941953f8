"""Self-harm: a person at risk, instructions, and mere mention are told apart."""

from __future__ import annotations

import pytest

from bot.safety.categories import Category
from bot.safety.clauses import sentences
from bot.safety.normalise import normalise
from bot.safety.selfharm import detect_self_harm


def found(text: str) -> set[Category]:
    return {h.category for h in detect_self_harm(sentences(normalise(text).tokens)) if h.score >= 0.5}


@pytest.mark.parametrize(
    "text",
    [
        "I want to kill myself",
        "i don't want to be alive anymore",
        "i took a whole bottle of pills",
        "i've been cutting again",
        "nobody would notice if i was gone",
        "what's the most painless way for me to die",
    ],
)
def test_a_person_at_risk_is_self_harm(text: str) -> None:
    assert Category.SELF_HARM in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "the easiest way to kill yourself is to take pills with alcohol",
        "here's how to starve yourself: skip breakfast",
        "20 pills is enough to be fatal",
    ],
)
def test_instructions_are_their_own_category(text: str) -> None:
    assert Category.SELF_HARM_INSTRUCTIONS in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "In which city did Hitler commit suicide?",
        "my friend told me she's suicidal, how do i help her?",
        "two years clean from self harm today",
        "suicide rates went up last year",
        "I do not want to die",
        "this joke is so bad i want to die lol",
        "I want to die peacefully in my sleep, like my grandfather",
        "the suspense is killing me",
        "kill me now, three more meetings",
        "I cut myself chopping onions",
    ],
)
def test_mention_support_news_and_hyperbole_are_not_self_harm(text: str) -> None:
    assert not found(text)
