"""Slack payloads → what the core needs to know, with every "ignore this" rule in one place.

Three kinds of work come out of Slack's requests: an `Incoming` message, a `Change` (a
message edited or deleted) and a `SlashCommand`. Each is built from an untrusted payload
(any field may be missing or of the wrong type: it is then ignored, never a crash), all
text is `clean`ed, and each turns into a JSON-able `route` and back, so the inbox can keep
it until it is answered — also by the next process, after a restart.

Threads: a reply always goes into the message's thread. A message already in a thread
belongs to that thread (`thread_ts`); a top-level channel message starts one whose
`thread_ts` is the message's own `ts`, so the same `ChannelRef` names the conversation
when people answer in it. A direct-message conversation is the DM itself: a top-level DM
is answered top-level and shares the DM's history; a threaded DM stays in its thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from adapters.cleaning import clean_text
from adapters.slack_render import to_plain
from bot.events import ChannelRef

__all__ = ["Change", "Incoming", "SlashCommand", "Work", "change", "from_route", "incoming", "route", "slash_command"]

# Message subtypes that are a person posting; the rest (edits, joins, bot posts) are not new messages.
_USER_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})


@dataclass(frozen=True)
class Incoming:
    """A Slack message the core should see, before its author is looked up."""

    where: ChannelRef
    channel: str
    user: str
    text: str
    ts: str
    reply_thread: str  # thread_ts to answer in; "" = top level (DMs)
    addressed: bool
    is_dm: bool
    team: str = ""  # the workspace it came from, DMs too (whose token answers it)


@dataclass(frozen=True)
class Change:
    """A message that was edited (`text` is its new text) or deleted (`text` is None)."""

    where: ChannelRef
    message_id: str
    text: str | None


@dataclass(frozen=True)
class SlashCommand:
    where: ChannelRef
    user: str
    text: str
    response_url: str
    trigger_id: str
    team: str = ""  # the workspace it came from, DMs too


Work = Incoming | Change | SlashCommand


def incoming(body: Mapping[str, Any], bot_user_id: str, *, mention: bool) -> Incoming | None:
    """The message in an Events API `body`, or None when the bot must ignore it.

    `mention` is True for `app_mention` events. A channel `message` event that mentions
    the bot is ignored, because its `app_mention` twin carries it (answering both would
    reply twice).
    """
    event = body.get("event")
    if not isinstance(event, Mapping):
        return None
    user = _text(event, "user")
    if event.get("bot_id") or event.get("subtype") not in _USER_SUBTYPES:
        return None
    if not user or user == bot_user_id:
        return None
    raw = _text(event, "text")
    is_dm = event.get("channel_type") == "im"
    if not mention and not is_dm and bot_user_id and f"<@{bot_user_id}" in raw:
        return None
    text = to_plain(raw, bot_user_id)
    where = _where(body, event, event, is_dm)
    if not text or where is None:
        return None
    return Incoming(
        where=where,
        channel=where.channel,
        user=user,
        text=text,
        ts=_text(event, "ts"),
        reply_thread=where.thread,
        addressed=mention or is_dm,
        is_dm=is_dm,
        team=_text(body, "team_id") or _text(event, "team"),
    )


def change(body: Mapping[str, Any], bot_user_id: str) -> Change | None:
    """The edit or deletion in a `message_changed` / `message_deleted` event, or None.

    Edits of bot messages (our own `chat.update`s among them) and edits that leave the
    text as it was (Slack sends those when a thread gets a reply) are ignored."""
    event = body.get("event")
    if not isinstance(event, Mapping):
        return None
    subtype = event.get("subtype")
    is_dm = event.get("channel_type") == "im"
    if subtype == "message_deleted":
        before = event.get("previous_message")
        message = before if isinstance(before, Mapping) else {}
        deleted = _text(event, "deleted_ts") or _text(message, "ts")
        where = _where(body, event, {**message, "ts": deleted}, is_dm)
        return Change(where, deleted, None) if where is not None else None
    if subtype != "message_changed":
        return None
    after, before = event.get("message"), event.get("previous_message")
    if not isinstance(after, Mapping):
        return None
    author = _text(after, "user")
    if after.get("bot_id") or not author or author == bot_user_id:
        return None
    text = to_plain(_text(after, "text"), bot_user_id)
    if isinstance(before, Mapping) and to_plain(_text(before, "text"), bot_user_id) == text:
        return None
    where = _where(body, event, after, is_dm)
    return Change(where, _text(after, "ts"), text) if where is not None else None


def slash_command(form: Mapping[str, Any]) -> SlashCommand:
    """A `/gpt2 ...` command: where it ran (the channel; commands carry no thread) and its text
    as typed (Slack escapes `&`, `<`, `>` in it as in messages)."""
    channel = _text(form, "channel_id")
    is_dm = form.get("channel_name") == "directmessage" or channel.startswith("D")
    workspace = "" if is_dm else _text(form, "team_id")
    return SlashCommand(
        where=ChannelRef("slack", workspace, channel),
        user=_text(form, "user_id"),
        text=to_plain(_text(form, "text")),
        response_url=_text(form, "response_url"),
        trigger_id=_text(form, "trigger_id"),
        team=_text(form, "team_id"),
    )


# --- routes: work as JSON, kept in the inbox until answered ------------------------------


def route(work: Work) -> dict[str, Any]:
    kind = {Incoming: "message", Change: "change", SlashCommand: "command"}[type(work)]
    return {"kind": kind, **asdict(work)}


def from_route(stored: Mapping[str, Any]) -> Work | None:
    """The work a route describes; None when it is not one this version wrote."""
    fields = dict(stored)
    kind = fields.pop("kind", None)
    cls = {"message": Incoming, "change": Change, "command": SlashCommand}.get(str(kind))
    where = fields.pop("where", None)
    if cls is None or not isinstance(where, Mapping):
        return None
    try:
        work: Work = cls(where=ChannelRef(**where), **fields)
    except TypeError:
        return None
    values = [*asdict(work.where).values(), *(getattr(work, name) for name in fields)]
    if not all(isinstance(value, (str, bool)) or value is None for value in values):
        return None
    return work


# --- helpers -------------------------------------------------------------------------


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    return clean_text(value) if isinstance(value, str) else ""


def _where(
    body: Mapping[str, Any], event: Mapping[str, Any], message: Mapping[str, Any], is_dm: bool
) -> ChannelRef | None:
    """The conversation `message` (in `event`'s channel) belongs to; None without channel or ts."""
    channel, ts = _text(event, "channel"), _text(message, "ts")
    if not channel or not ts:
        return None
    thread = _text(message, "thread_ts")
    if not thread and not is_dm:
        thread = ts
    workspace = "" if is_dm else (_text(body, "team_id") or _text(event, "team"))
    return ChannelRef("slack", workspace, channel, thread)
