"""Splitting and mention-neutralising, as pure functions."""

from __future__ import annotations

import itertools
import random

import pytest

from adapters.discord_render import MESSAGE_LIMIT, neutralise_mentions, render_preview, split_message
from bot import messages


def test_short_text_is_one_message_and_blank_text_is_none() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("  \n ") == []
    assert split_message("x" * MESSAGE_LIMIT) == ["x" * MESSAGE_LIMIT]


def test_paragraph_breaks_are_preferred_over_sentences_and_words() -> None:
    first = "First paragraph. " * 40  # 680 characters
    second = "Second one, longer. " * 70  # 1,400 characters: both don't fit in one message
    text = first + "\n\n" + second + "\n\n" + "tail"
    pieces = split_message(text)
    assert pieces == [first + "\n\n", second + "\n\n" + "tail"]


def test_sentence_end_beats_a_plain_space() -> None:
    text = "a" * 1500 + ". " + "word " * 200
    pieces = split_message(text)
    assert pieces[0] == "a" * 1500 + ". "
    assert "".join(pieces) == text


def test_never_cuts_inside_a_word_unless_the_word_alone_is_too_long() -> None:
    words = ["lorem", "ipsum", "dolor", "supercalifragilistic"]
    rng = random.Random(7)
    text = " ".join(rng.choice(words) for _ in range(1500))
    pieces = split_message(text)
    assert "".join(pieces) == text and all(len(p) <= MESSAGE_LIMIT for p in pieces)
    assert all(a.endswith(" ") or b.startswith(" ") for a, b in itertools.pairwise(pieces))
    assert split_message("y" * 4500) == ["y" * 2000, "y" * 2000, "y" * 500]


@pytest.mark.parametrize("seed", range(20))
def test_random_texts_always_join_back_and_fit(seed: int) -> None:
    rng = random.Random(seed)
    tokens = ["hi", "there.", "what?", "\n", "\n\n", "  ", "x" * 120, "ok!", "…"]
    text = "".join(rng.choice(tokens) + rng.choice(["", " "]) for _ in range(rng.randint(1, 3000)))
    pieces = split_message(text)
    assert all(0 < len(p) <= MESSAGE_LIMIT for p in pieces)
    assert "".join(pieces).rstrip() == text.rstrip()


def test_mass_and_role_mentions_are_neutralised_but_still_read_the_same() -> None:
    text = "@everyone @here @Everyone <@&123> <@456> mail@hereford.example"
    safe = neutralise_mentions(text)
    assert "@everyone" not in safe and "@here " not in safe and "<@&" not in safe
    assert "<@456>" in safe and "mail@hereford.example" in safe  # user pings are stopped by allowed_mentions
    assert safe.replace("\u200b", "") == text


def test_a_preview_is_one_message_that_always_ends_in_the_preview_mark() -> None:
    short = messages.preview("Just begun")
    assert render_preview(short) == short
    long = messages.preview("word " * 1000)  # 5,000 characters written so far
    shown = render_preview(long)
    assert len(shown) <= MESSAGE_LIMIT and shown.endswith(messages.preview(""))
    assert long.startswith(shown[: -len(messages.preview(""))])
    assert render_preview(messages.preview("ping @everyone")) == messages.preview("ping @\u200beveryone")
