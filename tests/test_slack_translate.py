"""Slack payloads → messages, edits, deletions and commands; and each to a route and back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.slack_translate import Change, Incoming, change, from_route, incoming, route, slash_command
from bot.events import ChannelRef

BODY = {"team_id": "T1", "event_id": "Ev1"}


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


def test_a_command_runs_in_its_channel_without_a_thread() -> None:
    ref = slash_command({"team_id": "T1", "channel_id": "C1", "channel_name": "general"}).where
    assert (ref.platform, ref.workspace, ref.channel, ref.thread) == ("slack", "T1", "C1", "")


def test_command_text_is_read_as_typed() -> None:
    command = slash_command(
        {"team_id": "T1", "channel_id": "C1", "text": "persona Tom &amp; Jerry &lt;3 &gt;", "user_id": "U1"}
    )
    assert command.text == "persona Tom & Jerry <3 >"
    assert slash_command({"channel_id": "C1", "text": 5, "user_id": ["U1"]}).text == ""  # odd fields: empty


def test_text_with_lone_surrogates_is_cleaned_before_the_core_sees_it() -> None:
    raw = json.loads(
        '{"type": "app_mention", "user": "U1", "text": "<@UBOT> hi \\ud800", "channel": "C1", "ts": "1.1"}'
    )
    message = incoming({**BODY, "event": raw}, "UBOT", mention=True)
    assert message is not None and message.text == "hi \ufffd"


def edited(text: str, before: str = "old", **message: Any) -> dict[str, Any]:
    event = {
        "type": "message",
        "subtype": "message_changed",
        "channel": "C1",
        "channel_type": "channel",
        "hidden": True,
        "ts": "9.9",
        "message": {"type": "message", "user": "U1", "text": text, "ts": "5.5", **message},
        "previous_message": {"type": "message", "user": "U1", "text": before, "ts": "5.5"},
    }
    return {**BODY, "event": event}


def test_an_edit_names_the_message_and_its_conversation() -> None:
    top = change(edited("<@UBOT> new words"), "UBOT")
    assert top == Change(ChannelRef("slack", "T1", "C1", "5.5"), "5.5", "new words")
    in_thread = change(edited("new", thread_ts="4.4"), "UBOT")
    assert in_thread is not None and in_thread.where.thread == "4.4"


@pytest.mark.parametrize(
    "body",
    [
        edited("same", before="same"),  # Slack sends these when a thread gets a reply
        edited("bot words", bot_id="B1"),
        edited("our own preview", user="UBOT"),
        {**BODY, "event": {"type": "message", "subtype": "message_changed", "channel": "C1", "message": None}},
        {**BODY, "event": {"type": "message", "subtype": "channel_join", "channel": "C1", "ts": "1.1"}},
    ],
)
def test_edits_that_change_nothing_a_person_said_are_ignored(body: dict[str, Any]) -> None:
    assert change(body, "UBOT") is None


def test_a_deletion_names_the_message_and_its_conversation() -> None:
    event = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": "C1",
        "hidden": True,
        "deleted_ts": "5.5",
        "ts": "9.9",
        "previous_message": {"type": "message", "user": "U1", "text": "abuse", "ts": "5.5", "thread_ts": "4.4"},
    }
    assert change({**BODY, "event": event}, "UBOT") == Change(ChannelRef("slack", "T1", "C1", "4.4"), "5.5", None)
    dm = {**event, "channel": "D1", "channel_type": "im", "previous_message": {"ts": "5.5"}}
    assert change({**BODY, "event": dm}, "UBOT") == Change(ChannelRef("slack", "", "D1", ""), "5.5", None)


def test_work_survives_its_route_through_json() -> None:
    message = incoming(
        {**BODY, "event": {"type": "app_mention", "user": "U1", "text": "<@UBOT> hi", "channel": "C1", "ts": "1.1"}},
        "UBOT",
        mention=True,
    )
    command = slash_command({"team_id": "T1", "channel_id": "C1", "text": "show", "user_id": "U1", "trigger_id": "t"})
    deleted = Change(ChannelRef("slack", "T1", "C1", "1.1"), "1.1", None)
    for work in (message, command, deleted):
        assert work is not None
        assert from_route(json.loads(json.dumps(route(work)))) == work
    assert isinstance(message, Incoming)


@pytest.mark.parametrize(
    "stored",
    [
        {},
        {"kind": "telepathy", "where": {}},
        {"kind": "message", "where": {"platform": "slack"}},
        {"kind": "change", "where": {"platform": "slack", "workspace": "T1", "channel": "C1"}, "message_id": 5},
        {"kind": "command", "where": "C1"},
    ],
)
def test_a_route_this_version_did_not_write_reads_as_none(stored: dict[str, Any]) -> None:
    assert from_route(stored) is None
