"""Stop-pattern scanning with hold-back, and token-by-token detokenisation."""

from __future__ import annotations

import random

import pytest
from transformers import PreTrainedTokenizerBase

from bot.inference.detokenizer import TextStream, TokenBytes
from bot.inference.stops import StopScanner, compile_stop

SPEAKER = r"\n[^\n:]{1,40}:"


def _stream(scanner: StopScanner, pieces: list[str]) -> tuple[list[str], str]:
    """Feed pieces; returns what was shown after each piece and the final text."""
    text, shown, out = "", 0, []
    for piece in pieces:
        text += piece
        safe = scanner.scan(text)
        out.append(text[shown:safe])
        shown = safe
        if scanner.cut is not None:
            break
    return out, text


def test_speaker_line_is_held_back_then_cut() -> None:
    scanner = StopScanner(SPEAKER)
    shown, _ = _stream(scanner, ["Sure", ", see", " you\n", "Al", "ice", ":", " bye"])
    assert shown == ["Sure", ", see", " you", "", "", ""]
    assert scanner.cut == len("Sure, see you")


def test_held_text_is_released_when_it_cannot_match() -> None:
    scanner = StopScanner(SPEAKER)
    shown, text = _stream(scanner, ["one\n", "two", " three\n", "\n", "four"])
    assert scanner.cut is None
    # "\ntwo three" can no longer match once the next newline comes; "\nfour" still could
    assert shown == ["one", "", "\ntwo three", "\n", ""]
    assert "".join(shown) + "\nfour" == text
    # a long line is no speaker name: released once it passes 40 characters
    scanner = StopScanner(SPEAKER)
    shown, text = _stream(scanner, ["x\n", "y" * 30, "y" * 30])
    assert scanner.cut is None and "".join(shown) == text


def test_first_complete_match_wins_over_an_earlier_partial_one() -> None:
    scanner = StopScanner(r"a[^b]*z|STOP")
    shown, _ = _stream(scanner, ["xa", "yy", " STOP", "z"])
    assert scanner.cut == len("xayy ")
    assert shown == ["x", "", "ayy "]  # "ayy" was held back while "a...z" could still match


def test_no_pattern_shows_everything() -> None:
    scanner = StopScanner(None)
    assert _stream(scanner, ["a\nB", "ob:"])[0] == ["a\nB", "ob:"]


def test_bad_pattern_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="bad stop pattern"):
        compile_stop("(")


def test_token_bytes_decode_like_the_tokenizer(tokenizer: PreTrainedTokenizerBase) -> None:
    table = TokenBytes(tokenizer, 50257)
    rng = random.Random(0)
    for _ in range(50):
        ids = [rng.randrange(50257) for _ in range(rng.randrange(1, 30))]
        assert table.decode(ids) == tokenizer.decode(ids, skip_special_tokens=True)
    assert table[50256] == b""


def test_text_stream_waits_for_whole_characters(tokenizer: PreTrainedTokenizerBase) -> None:
    text = "😀 héllo wörld\nBob: ünïcödé ✓"
    ids = tokenizer.encode(text)
    stream = TextStream(TokenBytes(tokenizer, 50257))
    pieces = [stream.push(i) for i in ids]
    assert "".join(pieces) + stream.finish() == text
    assert "\ufffd" not in "".join(pieces)
    assert pieces[:2] == ["", "😀"]  # the emoji spans two tokens: nothing shown mid-character
    cut = text.index("\nBob")
    kept = stream.tokens_before(ids, cut)
    assert tokenizer.decode(list(kept)) == text[:cut]


def test_text_stream_flushes_a_broken_tail(tokenizer: PreTrainedTokenizerBase) -> None:
    ids = tokenizer.encode("😀")
    stream = TextStream(TokenBytes(tokenizer, 50257))
    assert stream.push(ids[0]) == ""
    assert stream.finish() == "\ufffd"
    assert stream.text == tokenizer.decode(ids[:1])
