"""Slack text rules: escaping, neutralised broadcasts, splitting, plain-text blocks, inbound markup and cleaning."""

from __future__ import annotations

import pytest

from adapters.slack_render import MAX_CHARS, escape, neutralise, plain_blocks, render, split, to_plain


def test_escape_covers_the_three_control_characters() -> None:
    assert escape("a & b < c > d &amp;") == "a &amp; b &lt; c &gt; d &amp;amp;"


@pytest.mark.parametrize("word", ["@here", "@channel", "@everyone", "@HERE"])
def test_bare_broadcast_words_are_broken(word: str) -> None:
    assert word not in neutralise(f"hi {word}!")
    assert neutralise(f"hi {word}!").replace("\u200b", "") == f"hi {word}!"


def test_ordinary_at_words_and_emails_are_untouched() -> None:
    assert neutralise("mail me@hereford.example or @channels") == "mail me@hereford.example or @channels"


def test_split_prefers_line_breaks_then_spaces_and_keeps_every_character() -> None:
    text = "a first line of text\nsecond " + "word " * 30
    pieces = split(text, 40)
    assert pieces[0] == "a first line of text\n"  # the break in the window's second half wins
    assert "".join(pieces) == text
    assert all(len(escape(p)) <= 40 for p in pieces)
    assert all(p.endswith((" ", "\n")) for p in pieces[:-1])


def test_split_counts_escaped_length_and_hard_cuts_unbroken_text() -> None:
    text = "&" * 50  # each becomes "&amp;" (5 characters)
    pieces = split(text, 12)
    assert [len(p) for p in pieces] == [2] * 25
    assert "".join(pieces) == text
    assert split("no cut needed", 100) == ["no cut needed"]


def test_render_drops_only_blank_chunks() -> None:
    assert render("   \n ") == []
    chunks = render("x" * (MAX_CHARS * 2 + 1))
    assert [len(c) for c in chunks] == [MAX_CHARS, MAX_CHARS, 1]


def test_to_plain_reads_slack_markup() -> None:
    raw = "<@UBOT> hi <@U1|alice> in <#C1|general> see <https://x.test|the docs> &lt;3 &amp; <!here>"
    assert to_plain(raw, "UBOT") == "hi @alice in #general see the docs <3 & @here"
    assert to_plain("<@U2> ok", "UBOT") == "@U2 ok"
    assert to_plain("<@UBOT>", "UBOT") == ""


def test_plain_blocks_show_text_exactly() -> None:
    assert plain_blocks("*bold* :x:") == [
        {"type": "section", "text": {"type": "plain_text", "text": "*bold* :x:", "emoji": False}}
    ]
