"""Every Discord interaction gets an answer; the live `/gpt2` goes to the core.

Discord shows "The application did not respond" for an interaction left unanswered for
3 s. So: autocomplete gets setting keys; the live `/gpt2` is deferred at once and
answered by the core in an ephemeral follow-up; a stale copy of `/gpt2` (the scope the
bot no longer syncs to) is told to use the current one and deleted; anything else of this
application (another command name, a subcommand group, a button) is told it is not a
command of this bot. At the in-flight limit a command is answered "busy", while stopping
"restarting", and a command cut off by a stop gets the restarting note.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import discord

from adapters.cleaning import clean_text
from adapters.discord_commands import Kind, autocomplete_choices, command_text, forget, kind_of
from adapters.discord_handlings import Handlings, Session
from adapters.discord_outbox import PLATFORM_ERRORS, InteractionOutbox, respond
from adapters.discord_translate import author_of, channel_ref, is_moderator
from bot import messages
from bot.config import DiscordSection
from bot.events import Command, Core, Reply, ReplyKind

__all__ = ["Interactions"]

log = logging.getLogger(__name__)


class Interactions:
    def __init__(self, config: DiscordSection, core: Core, handlings: Handlings, session: Session) -> None:
        self._config = config
        self._core = core
        self._handlings = handlings
        self._session = session

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        data: Any = interaction.data or {}
        if interaction.type is discord.InteractionType.autocomplete:
            try:
                await interaction.response.autocomplete(autocomplete_choices(data))
            except PLATFORM_ERRORS as exc:
                log.warning("discord: autocomplete answer failed: %s", exc)
            return
        if interaction.type is not discord.InteractionType.application_command:
            await respond(interaction, messages.DISCORD_FOREIGN_COMMAND)  # a button or form: none are ours
            return
        kind = kind_of(data, self._config.command_guilds)
        if kind is Kind.STALE:
            await respond(interaction, messages.DISCORD_STALE_COMMAND)
            await self._forget(data)
            return
        text = command_text(data) if kind is Kind.OURS else None
        if text is None:
            await respond(interaction, messages.DISCORD_FOREIGN_COMMAND)
            return
        if self._session.paused:
            await respond(interaction, messages.restarting(answer_later=False))
            return
        if self._handlings.full:
            log.warning(
                "discord: %d handlings in flight; command %s is answered busy", len(self._handlings), interaction.id
            )
            await respond(interaction, messages.BUSY)
            return
        with self._handlings.tracked():
            await self._command(interaction, clean_text(text))

    async def _command(self, interaction: discord.Interaction, text: str) -> None:
        outbox = InteractionOutbox(interaction)
        if not await outbox.defer():  # within Discord's 3 s, before anything slow
            return
        user = interaction.user
        in_dm = interaction.guild_id is None
        moderator = in_dm or is_moderator(user, interaction.permissions, self._config.moderator_roles)
        command = Command(
            where=channel_ref(interaction.channel, interaction.guild_id, interaction.channel_id),
            author=author_of(user, moderator=moderator),
            text=text,
            message_id=str(interaction.id),
        )
        try:
            await self._core.on_command(command, outbox)
        except asyncio.CancelledError:
            if not outbox.delivered and not self._handlings.handed_back():
                await outbox.abandon(messages.restarting(answer_later=False))
            raise
        except Exception:
            log.exception("discord: the core failed on command %s", command.message_id)
            await outbox.send(Reply(messages.ERROR, ReplyKind.ERROR, ephemeral=True))

    async def _forget(self, data: Mapping[str, Any]) -> None:
        client = self._session.client
        if client is None:
            return
        try:
            await forget(client, data)
        except discord.NotFound:
            pass  # deleted already (at sync, or by the use just before)
        except PLATFORM_ERRORS as exc:
            log.warning("discord: could not delete a stale /gpt2 (%s)", exc)
