"""Normalisation undoes the usual obfuscations and leaves real words alone."""

from __future__ import annotations

import pytest

from bot.safety.normalise import normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ｆｕｃｋ", "fuck"),  # NFKC full-width
        ("f\u200bu\u200bck", "fuck"),  # zero-width characters
        ("Wom\u0435n", "women"),  # Cyrillic е
        ("sh1t", "shit"),  # leetspeak
        ("f u c k", "fuck"),  # spaced letters
        ("f.u.c.k", "fuck"),
        ("fuuuuuck", "fuck"),  # repeated letters
        ("Muslms are scum", "muslims are scum"),  # dropped letter
        ("klil", "kill"),  # swapped letters
        ("Ihate Muslims", "i hate muslims"),  # words run together
        ("gaypeople", "gay people"),
        ("muslimscum", "muslim scum"),  # the most even cut, not "muslims cum"
        ("jewsarerats", "jews are rats"),  # three words
        ("IHateWomen", "i hate women"),  # CamelCase
        ("h8", "hate"),  # rebus
        ("muzlims", "muslims"),  # one letter substituted in an identity noun
        ("sc*m", "scum"),  # a masked letter
        ("u r", "you are"),  # chat shorthand
        ("I cant stand", "i hate"),  # set phrase, typed without an apostrophe
        ("makes me sick", "disgust me"),
        ("the women's team", "the women 's team"),  # possessive kept
        ("get rid of", "eliminate"),
        ("isn't", "is not"),
    ],
)
def test_obfuscations_are_undone(raw: str, expected: str) -> None:
    assert normalise(raw).text == expected


@pytest.mark.parametrize("word", ["therapist", "cocktail", "assassin", "scunthorpe", "grape", "analysis"])
def test_real_words_are_not_split_or_repaired(word: str) -> None:
    assert normalise(word).text == word


def test_ordinary_spaced_letters_stay_apart() -> None:
    assert normalise("a b c d e").text == "a b c d e"


def test_original_text_is_kept() -> None:
    assert normalise("Ｈｉ there").raw == "Ｈｉ there"
