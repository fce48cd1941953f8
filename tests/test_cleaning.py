"""`clean_text`: what platforms may send that is not valid Unicode never gets further."""

from __future__ import annotations

import json

import pytest

from adapters.cleaning import REPLACEMENT, clean_text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain text, ünïcödé, 漢字, 😀", "plain text, ünïcödé, 漢字, 😀"),
        ("tabs\tnew\nlines\r\n stay", "tabs\tnew\nlines\r\n stay"),
        ("a\ud800b", f"a{REPLACEMENT}b"),  # lone high surrogate
        ("\udc00end", f"{REPLACEMENT}end"),  # lone low surrogate
        ("\ud83d\ude00", "😀"),  # a pair left unjoined is joined
        ("\ud800\ud800", REPLACEMENT * 2),
        ("nul\x00 bell\x07 esc\x1b del\x7f c1\x85", "nul bell esc del c1"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean
    clean_text(raw).encode("utf-8")  # always encodable


def test_what_json_lets_through_comes_out_encodable() -> None:
    raw = json.loads('"hi \\ud800 there \\udfff\\u0000!"')  # valid JSON, invalid Unicode
    with pytest.raises(UnicodeEncodeError):
        raw.encode("utf-8")
    assert clean_text(raw) == f"hi {REPLACEMENT} there {REPLACEMENT}!"
