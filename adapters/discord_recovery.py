"""Finding a message again that the bot took but never answered (it stopped or crashed first).

The inbox keeps a `route` for every message the adapter claims: its channel, guild and
message ids (`route_of`). `refetch` turns a route back into discord.py objects through
REST: the message as it is now (edited meanwhile: the new text; deleted: nothing to
answer), and the message of ours that an earlier run left in place of the reply, a half
preview ending in " …" or a restarting note, for the answer to replace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import discord

from bot import messages

__all__ = ["LEFTOVER_SEARCH", "Found", "refetch", "route_of"]

LEFTOVER_SEARCH = 50  # messages after the question searched for what an earlier run left
_UNFINISHED_END = messages.preview("")  # " …": what every preview ends with
_NOTES = (messages.restarting(answer_later=True), messages.restarting(answer_later=False))


@dataclass(frozen=True)
class Found:
    message: discord.Message
    leftover: discord.Message | None  # ours, where the reply should have been


def route_of(message: discord.Message) -> dict[str, str]:
    """What the inbox stores to find `message` again."""
    return {
        "channel": str(message.channel.id),
        "guild": str(message.guild.id) if message.guild else "",
        "message": str(message.id),
    }


async def refetch(client: discord.Client, route: Mapping[str, Any]) -> Found | None:
    """The routed message as it is now, or None when it (or its channel) is gone or unreadable.
    Other failures (outage, rate limit) raise: the caller tries again later."""
    me = client.user
    channel_id, message_id = int(route["channel"]), int(route["message"])
    try:
        channel = client.get_channel(channel_id) or await client.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable) or me is None:
            return None
        message = await channel.fetch_message(message_id)
        leftover = None
        async for later in channel.history(after=message, limit=LEFTOVER_SEARCH, oldest_first=True):
            if _left_for(later, message, me):
                leftover = later
                break
    except (discord.NotFound, discord.Forbidden):
        return None
    return Found(message, leftover)


def _left_for(candidate: discord.Message, message: discord.Message, me: discord.ClientUser) -> bool:
    ref = candidate.reference
    return (
        candidate.author.id == me.id
        and ref is not None
        and ref.message_id == message.id
        and (candidate.content.endswith(_UNFINISHED_END) or candidate.content in _NOTES)
    )
