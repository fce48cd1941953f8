"""`Outbox` for Discord: replies to a message, or follow-ups to a deferred slash command.

Every send neutralises mass and role mentions, splits at 2,000 characters and passes
`AllowedMentions.none()`, so generated text can never ping anyone. A failed send
(missing permission, deleted channel, Discord outage) is logged with Discord's status
and code and ends that reply; it never propagates into the core or stops the bot.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, nullcontext

import discord

from adapters.discord_render import neutralise_mentions, split_message
from bot.events import Reply

__all__ = ["InteractionOutbox", "MessageOutbox", "render"]

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()


def render(reply: Reply) -> list[str]:
    """The messages a reply becomes: mention-safe pieces of at most 2,000 characters."""
    return [piece for piece in split_message(neutralise_mentions(reply.text)) if piece.strip()]


class MessageOutbox:
    """Answers one chat message in its channel or thread, as a reply to it."""

    def __init__(self, message: discord.Message) -> None:
        self._message = message

    async def send(self, reply: Reply) -> None:
        message = self._message
        target = int(reply.reply_to) if reply.reply_to.isdigit() else message.id
        reference = discord.MessageReference(
            message_id=target, channel_id=message.channel.id,
            guild_id=message.guild.id if message.guild else None, fail_if_not_exists=False,
        )  # fmt: skip
        pieces = render(reply)
        for index, piece in enumerate(pieces):
            try:
                if index == 0:  # the first piece is the reply; the rest continue it
                    await message.channel.send(piece, reference=reference, allowed_mentions=NO_MENTIONS)
                else:
                    await message.channel.send(piece, allowed_mentions=NO_MENTIONS)
            except discord.HTTPException as exc:
                _log_failure("reply", message.channel.id, index, len(pieces), exc)
                return

    def working(self) -> AbstractAsyncContextManager[None]:
        return self._typing()

    @asynccontextmanager
    async def _typing(self) -> AsyncIterator[None]:
        """Discord's typing indicator while the body runs; a failure to show it is only logged."""
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(self._message.channel.typing())
            except discord.HTTPException as exc:
                log.warning("discord: typing indicator failed in channel %s: %s", self._message.channel.id, exc)
            yield


class InteractionOutbox:
    """Answers one slash command: `defer()` first, then every reply is an ephemeral follow-up."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self._interaction = interaction

    async def defer(self) -> bool:
        """Acknowledge within Discord's 3 s ("thinking…", visible only to the author)."""
        try:
            await self._interaction.response.defer(ephemeral=True, thinking=True)
        except discord.HTTPException as exc:
            _log_failure("defer", self._interaction.channel_id, 0, 1, exc)
            return False
        return True

    async def send(self, reply: Reply) -> None:
        pieces = render(reply)
        for index, piece in enumerate(pieces):
            try:
                if self._interaction.response.is_done():
                    await self._interaction.followup.send(piece, ephemeral=True, allowed_mentions=NO_MENTIONS)
                else:
                    await self._interaction.response.send_message(
                        piece, ephemeral=True, allowed_mentions=NO_MENTIONS
                    )
            except discord.HTTPException as exc:
                _log_failure("command answer", self._interaction.channel_id, index, len(pieces), exc)
                return

    def working(self) -> AbstractAsyncContextManager[None]:
        return nullcontext()  # the deferred response already shows "thinking…"


def _log_failure(what: str, channel_id: int | None, index: int, total: int, exc: discord.HTTPException) -> None:
    log.error(
        "discord: %s failed in channel %s (part %d of %d): HTTP %s, code %s: %s",
        what, channel_id, index + 1, total, exc.status, exc.code, exc.text,
    )  # fmt: skip
