"""Slack payloads → what the core needs to know, with every "ignore this" rule in one place.

Threads: a reply always goes into the message's thread. A message already in a thread
belongs to that thread (`thread_ts`); a top-level channel message starts one whose
`thread_ts` is the message's own `ts`, so the same `ChannelRef` names the conversation
when people answer in it. A direct-message conversation is the DM itself: a top-level DM
is answered top-level and shares the DM's history; a threaded DM stays in its thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.slack_render import to_plain
from bot.events import ChannelRef

__all__ = ["Incoming", "command_ref", "incoming"]

# Message subtypes that are a person posting; the rest (edits, joins, bot posts) are ignored.
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


def incoming(body: Mapping[str, Any], bot_user_id: str, *, mention: bool) -> Incoming | None:
    """The message in an Events API `body`, or None when the bot must ignore it.

    `mention` is True for `app_mention` events. A channel `message` event that mentions
    the bot is ignored, because its `app_mention` twin carries it (answering both would
    reply twice).
    """
    event = body.get("event")
    if not isinstance(event, Mapping):
        return None
    user = event.get("user")
    if event.get("bot_id") or event.get("subtype") not in _USER_SUBTYPES:
        return None
    if not isinstance(user, str) or not user or user == bot_user_id:
        return None
    raw = str(event.get("text") or "")
    is_dm = event.get("channel_type") == "im"
    if not mention and not is_dm and bot_user_id and f"<@{bot_user_id}" in raw:
        return None
    text = to_plain(raw, bot_user_id)
    channel, ts = str(event.get("channel") or ""), str(event.get("ts") or "")
    if not text or not channel or not ts:
        return None
    thread_ts = str(event.get("thread_ts") or "")
    if not thread_ts and not is_dm:
        thread_ts = ts
    workspace = "" if is_dm else _team(body, event)
    return Incoming(
        where=ChannelRef("slack", workspace, channel, thread_ts),
        channel=channel,
        user=user,
        text=text,
        ts=ts,
        reply_thread=thread_ts,
        addressed=mention or is_dm,
        is_dm=is_dm,
    )


def command_ref(command: Mapping[str, Any]) -> ChannelRef:
    """Where a slash command ran: the channel (commands carry no thread)."""
    channel = str(command.get("channel_id") or "")
    is_dm = command.get("channel_name") == "directmessage" or channel.startswith("D")
    workspace = "" if is_dm else str(command.get("team_id") or "")
    return ChannelRef("slack", workspace, channel)


def _team(body: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    return str(body.get("team_id") or event.get("team") or "")
