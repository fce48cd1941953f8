"""discord.py objects → the core's `Event` / `Command` fields; payload types stop here.

Who is a moderator is decided here: Administrator, Manage Server or Manage Channels in
the channel at hand, or a role whose name or id is in `discord.moderator_roles`. In a DM
the author is the only person in the conversation, so they count as its moderator.
A thread is its own conversation (`ChannelRef.thread`) inside its parent channel.

A mention of the bot is either of its user (`<@id>`) or of its managed integration role
(`<@&role>`, the role Discord gives every bot added with permissions, which Discord's
autocomplete sometimes inserts instead); both are removed from the text. Every text and
name passes through `clean_text` here, so invalid Unicode never reaches the core.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import discord

from adapters.cleaning import clean_text
from bot.config import DiscordSection
from bot.events import Author, ChannelRef, Event

__all__ = ["PLATFORM", "author_of", "channel_ref", "is_moderator", "message_event", "message_text"]

PLATFORM = "discord"
_ANSWERED_TYPES = (discord.MessageType.default, discord.MessageType.reply)
_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")
_CHANNEL = re.compile(r"<#(\d+)>")


def channel_ref(channel: Any, guild_id: int | None, channel_id: int | None = None) -> ChannelRef:
    """Where a message or interaction happened; a thread keeps its parent as `channel`."""
    workspace = str(guild_id) if guild_id is not None else ""
    if isinstance(channel, discord.Thread):
        return ChannelRef(PLATFORM, workspace, str(channel.parent_id), thread=str(channel.id))
    return ChannelRef(PLATFORM, workspace, str(getattr(channel, "id", None) or channel_id or ""))


def is_moderator(
    user: discord.User | discord.Member, permissions: discord.Permissions, moderator_roles: Iterable[str]
) -> bool:
    if permissions.administrator or permissions.manage_guild or permissions.manage_channels:
        return True
    wanted = {r.strip().lower() for r in moderator_roles}
    roles = user.roles if isinstance(user, discord.Member) else []
    return any(role.name.lower() in wanted or str(role.id) in wanted for role in roles)


def author_of(user: discord.User | discord.Member, *, moderator: bool) -> Author:
    return Author(str(user.id), clean_text(user.display_name), is_bot=user.bot, is_moderator=moderator)


def message_event(message: discord.Message, me: discord.ClientUser, config: DiscordSection) -> Event | None:
    """The core's view of `message`, or None when the bot must not see it at all.

    Ignored: the bot's own messages (Discord echoes them back), other bots' unless
    `allow_bots`, system messages (joins, pins, ...), DMs unless `allow_dms`, and
    messages without text that nobody addressed to the bot.
    """
    author = message.author
    if author.id == me.id or message.type not in _ANSWERED_TYPES:
        return None
    if (author.bot or message.webhook_id is not None) and not config.allow_bots:
        return None
    is_dm = message.guild is None
    if is_dm and not config.allow_dms:
        return None
    mentioned = any(user.id == me.id for user in message.mentions) or bool(_own_roles(message, me))
    addressed = is_dm or mentioned or _replies_to(message, me)
    text = message_text(message, me)
    if not text and not addressed:
        return None
    moderator = is_dm or is_moderator(author, _permissions(message), config.moderator_roles)
    return Event(
        where=channel_ref(message.channel, message.guild.id if message.guild else None),
        author=author_of(author, moderator=moderator),
        text=text,
        message_id=str(message.id),
        addressed=addressed,
        is_dm=is_dm,
    )


def message_text(message: discord.Message, me: discord.ClientUser) -> str:
    """The text with the bot's mentions removed and other mentions turned into names; clean."""
    text = _USER.sub(lambda m: "" if int(m[1]) == me.id else _user_name(message, int(m[1])), message.content)
    guild = message.guild
    if guild is not None:
        own = _own_roles(message, me)
        text = _ROLE.sub(lambda m: "" if int(m[1]) in own else _role_name(guild, int(m[1])), text)
        text = _CHANNEL.sub(lambda m: f"#{_channel_name(guild, int(m[1]))}", text)
    return clean_text(re.sub(r"[ \t]{2,}", " ", text).strip())


def _own_roles(message: discord.Message, me: discord.ClientUser) -> set[int]:
    """Ids of the roles mentioned in `message` that are the bot's own managed role."""
    guild = message.guild
    if guild is None:
        return set()
    roles = (guild.get_role(int(role_id)) for role_id in _ROLE.findall(message.content))
    return {role.id for role in roles if role is not None and role.tags is not None and role.tags.bot_id == me.id}


def _role_name(guild: discord.Guild, role_id: int) -> str:
    role = guild.get_role(role_id)
    return f"@{role.name}" if role is not None else "@role"


def _permissions(message: discord.Message) -> discord.Permissions:
    """The author's permissions in the message's channel (none if Discord sent too little)."""
    channel, author = message.channel, message.author
    if isinstance(author, discord.Member) and isinstance(channel, discord.abc.GuildChannel | discord.Thread):
        return channel.permissions_for(author)
    return discord.Permissions.none()


def _channel_name(guild: discord.Guild, channel_id: int) -> str:
    channel = guild.get_channel_or_thread(channel_id)
    return channel.name if channel is not None else "channel"


def _user_name(message: discord.Message, user_id: int) -> str:
    for user in message.mentions:
        if user.id == user_id:
            return f"@{user.display_name}"
    return "@someone"


def _replies_to(message: discord.Message, me: discord.ClientUser) -> bool:
    ref = message.reference
    if ref is None:
        return False
    target = ref.resolved if isinstance(ref.resolved, discord.Message) else ref.cached_message
    return target is not None and target.author.id == me.id
