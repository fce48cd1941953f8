"""Slack text rules: escaping, neutralised broadcasts, splitting, and inbound markup."""

from __future__ import annotations

import pytest

from adapters.slack_render import MAX_CHARS, escape, neutralise, render, split, to_plain
from adapters.slack_translate import command_ref, incoming


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


def test_incoming_thread_rules() -> None:
    body = {"team_id": "T1", "event_id": "Ev1"}
    top = incoming(
        {**body, "event": {"type": "app_mention", "user": "U1", "text": "<@UBOT> yo", "channel": "C1", "ts": "5.5"}},
        "UBOT",
        mention=True,
    )
    assert top is not None and (top.where.thread, top.reply_thread, top.text) == ("5.5", "5.5", "yo")
    nested = incoming(
        {
            **body,
            "event": {
                "type": "message",
                "channel_type": "channel",
                "user": "U1",
                "text": "more",
                "channel": "C1",
                "ts": "6.6",
                "thread_ts": "5.5",
            },
        },
        "UBOT",
        mention=False,
    )
    assert nested is not None and nested.where == top.where and not nested.addressed
    empty = incoming(
        {**body, "event": {"type": "app_mention", "user": "U1", "text": "<@UBOT>", "channel": "C1", "ts": "7.7"}},
        "UBOT",
        mention=True,
    )
    assert empty is None


def test_command_ref_uses_the_channel_and_no_thread() -> None:
    ref = command_ref({"team_id": "T1", "channel_id": "C1", "channel_name": "general"})
    assert (ref.platform, ref.workspace, ref.channel, ref.thread) == ("slack", "T1", "C1", "")
