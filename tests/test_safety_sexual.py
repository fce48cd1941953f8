"""Sexual content is content, not vocabulary; minors and grooming are always caught."""

from __future__ import annotations

import pytest

from bot.safety.categories import Category
from bot.safety.clauses import sentences
from bot.safety.normalise import normalise
from bot.safety.sexual import detect_sexual


def score(text: str, category: Category) -> float:
    hits = detect_sexual(sentences(normalise(text).tokens))
    return max((h.score for h in hits if h.category is category), default=0.0)


def test_a_word_is_flagged_content_is_blocked() -> None:
    assert 0.5 <= score("I looked up the word porn", Category.SEXUAL) < 0.8
    assert score("send nudes", Category.SEXUAL) >= 0.8
    assert score("wanna see my dick?", Category.SEXUAL) >= 0.8
    assert score("finally finished Moby Dick", Category.SEXUAL) < 0.3


@pytest.mark.parametrize(
    "text",
    [
        "my toddler keeps touching his penis during diaper changes, is that normal?",
        "is it normal for a 2 year old to have a rash on her vagina?",
        "how do i explain puberty to my 9 year old daughter?",
    ],
)
def test_parenting_and_medical_questions_pass(text: str) -> None:
    assert score(text, Category.SEXUAL_MINORS) == 0.0 and score(text, Category.SEXUAL) < 0.5


@pytest.mark.parametrize(
    "text",
    [
        "you're really mature for your age, don't tell your parents we talk ok?",
        "how old are you? send me a pic of you in your school uniform",
        "i'm 34 but i really like talking to you, can we keep this between us?",
        "come over after school, i'll give you robux, just don't tell your dad",
    ],
)
def test_grooming_without_sexual_words(text: str) -> None:
    assert score(text, Category.SEXUAL_MINORS) >= 0.9


@pytest.mark.parametrize(
    "text",
    [
        "don't tell anyone but i'm planning a surprise party for sam",
        "can you send me a photo of the whiteboard?",
        "how old are you guys? i'm 27",
        "our little secret: the cake is from costco",
    ],
)
def test_one_cue_alone_is_ordinary_chat(text: str) -> None:
    assert score(text, Category.SEXUAL_MINORS) == 0.0


def test_sexual_content_about_a_child() -> None:
    assert score("that 12 year old is so sexy", Category.SEXUAL_MINORS) == 1.0
