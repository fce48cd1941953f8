"""Edited and deleted Discord messages, from raw gateway events, to the core.

discord.py's `on_message_edit` / `on_message_delete` fire only for messages in its cache,
so every message from before the last restart would be missed; the raw events carry ids
for all of them. The conversation is named exactly, threads included: a thread discord.py
has not cached (archived, say) is looked up through REST to find its parent channel. The
bot's own edits (previews) and updates that keep the text (an embed unfurled) are not edits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import discord

from adapters.discord_handlings import Session
from adapters.discord_outbox import PLATFORM_ERRORS
from adapters.discord_translate import channel_ref, message_event
from bot.config import DiscordSection
from bot.events import ChannelRef, Core

__all__ = ["Changes"]

log = logging.getLogger(__name__)


class Changes:
    def __init__(self, config: DiscordSection, core: Core, session: Session) -> None:
        self._config = config
        self._core = core
        self._session = session

    async def edited(self, payload: discord.RawMessageUpdateEvent) -> None:
        me = self._session.me
        if me is None:
            return
        before = payload.cached_message
        if before is not None and before.content == payload.message.content:
            return  # an embed unfurled, a pin: not an edit of the text
        event = message_event(payload.message, me, self._config)
        if event is None:  # ours (previews), another bot's, a system message
            return
        where = await self._where(payload.channel_id, payload.guild_id)
        await self._core.on_message_edited(where, str(payload.message_id), event.text)

    async def deleted(self, channel_id: int, guild_id: int | None, message_ids: Iterable[int]) -> None:
        where = await self._where(channel_id, guild_id)
        for message_id in message_ids:
            await self._core.on_message_deleted(where, str(message_id))

    async def _where(self, channel_id: int, guild_id: int | None) -> ChannelRef:
        client = self._session.client
        channel: Any = client.get_channel(channel_id) if client is not None else None
        if channel is None and guild_id is not None and client is not None:
            try:
                channel = await client.fetch_channel(channel_id)
            except PLATFORM_ERRORS as exc:
                log.warning("discord: channel %s could not be looked up (%s); taking it for a channel", channel_id, exc)
        return channel_ref(channel, guild_id, channel_id)
