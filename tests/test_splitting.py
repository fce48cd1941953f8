"""The shared splitter: size limits, boundaries, nothing dropped, on random text."""

from __future__ import annotations

import itertools
import random

import pytest

from adapters.splitting import split_text

WORDS = ["a", "word", "longer-word", "&", "<tag>", "end.", "why?", "wow!", "x" * 30, "\n", "\n\n", "  "]


def random_text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


@pytest.mark.parametrize("seed", range(40))
def test_pieces_fit_join_back_and_never_cut_words(seed: int) -> None:
    rng = random.Random(seed)
    text = random_text(rng, rng.randint(1, 400))
    limit = rng.choice([40, 64, 100, 2000])
    cost = rng.choice([None, {"&": 5, "<": 4, ">": 4}])
    pieces = split_text(text, limit, cost)
    weights = cost or {}
    assert all(sum(weights.get(c, 1) for c in p) <= limit for p in pieces)
    joined = "".join(pieces)
    assert joined == text or (text.startswith(joined) and not text[len(joined) :].strip())
    for left, right in itertools.pairwise(pieces):
        assert left[-1].isspace() or right[0].isspace(), f"cut inside a word: {left[-10:]!r}|{right[:10]!r}"


def test_prefers_paragraph_then_sentence_boundaries() -> None:
    text = "First paragraph here.\n\nSecond one is a bit longer. It has two sentences. And more words follow"
    assert split_text(text, 40)[0] == "First paragraph here.\n\n"
    pieces = split_text("One sentence ends here. Then another sentence goes on and on", 40)
    assert pieces[0] == "One sentence ends here. "


def test_hard_cut_only_inside_an_unbroken_run_and_blank_text() -> None:
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_text("   \n ", 10) == []
    assert split_text("fits", 10) == ["fits"]
    with pytest.raises(ValueError):
        split_text("text", 0)


def test_five_thousand_characters_become_three_discord_messages() -> None:
    text = " ".join(f"word{i}" for i in range(800))[:5000]
    pieces = split_text(text, 2000)
    assert len(pieces) == 3 and all(len(p) <= 2000 for p in pieces)
    assert "".join(pieces) == text
