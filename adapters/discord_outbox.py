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

from adapters.discord_render import render
from bot.events import Reply, ReplyKind

__all__ = ["InteractionOutbox", "MessageOutbox"]

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()


class MessageOutbox:
    """Answers one chat message in its channel or thread, as a reply to it.

    A preview of a slow reply is posted as that reply and edited as it grows; the finished
    reply's first piece replaces it (or, for a refusal or error, it is deleted first), and
    `close()` deletes a preview no reply replaced.
    """

    def __init__(self, message: discord.Message) -> None:
        self._message = message
        self._preview: discord.Message | None = None

    def _reference(self, reply_to: str = "") -> discord.MessageReference:
        message = self._message
        return discord.MessageReference(
            message_id=int(reply_to) if reply_to.isdigit() else message.id,
            channel_id=message.channel.id,
            guild_id=message.guild.id if message.guild else None,
            fail_if_not_exists=False,
        )

    async def preview(self, text: str) -> None:
        pieces = render(Reply(text))
        if not pieces:
            return
        if self._preview is None:
            self._preview = await self._message.channel.send(
                pieces[0], reference=self._reference(), allowed_mentions=NO_MENTIONS
            )
        else:
            self._preview = await self._preview.edit(content=pieces[0], allowed_mentions=NO_MENTIONS)

    async def send(self, reply: Reply) -> str | None:
        message = self._message
        pieces = render(reply)
        start = 0
        first: str | None = None
        if self._preview is not None:
            replaced = self._preview.id
            if reply.kind is ReplyKind.CHAT and pieces and await self._replace_preview(pieces[0]):
                start, first = 1, str(replaced)
            else:
                await self.close()
        for index, piece in enumerate(pieces[start:], start):
            try:
                if index == 0:  # the first piece is the reply; the rest continue it
                    sent = await message.channel.send(
                        piece, reference=self._reference(reply.reply_to), allowed_mentions=NO_MENTIONS
                    )
                    first = str(sent.id)
                else:
                    await message.channel.send(piece, allowed_mentions=NO_MENTIONS)
            except discord.HTTPException as exc:
                _log_failure("reply", message.channel.id, index, len(pieces), exc)
                return first
        return first

    async def _replace_preview(self, text: str) -> bool:
        preview, self._preview = self._preview, None
        if preview is None:
            return False
        try:
            await preview.edit(content=text, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:  # e.g. someone deleted it: post the reply instead
            _log_failure("replacing the preview", self._message.channel.id, 0, 1, exc)
            return False
        return True

    async def close(self) -> None:
        """Delete a preview that no reply replaced."""
        preview, self._preview = self._preview, None
        if preview is None:
            return
        try:
            await preview.delete()
        except discord.HTTPException as exc:
            _log_failure("deleting the preview", self._message.channel.id, 0, 1, exc)

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

    async def send(self, reply: Reply) -> str | None:
        pieces = render(reply)
        for index, piece in enumerate(pieces):
            try:
                if self._interaction.response.is_done():
                    await self._interaction.followup.send(piece, ephemeral=True, allowed_mentions=NO_MENTIONS)
                else:
                    await self._interaction.response.send_message(piece, ephemeral=True, allowed_mentions=NO_MENTIONS)
            except discord.HTTPException as exc:
                _log_failure("command answer", self._interaction.channel_id, index, len(pieces), exc)
                return None
        return ""

    def working(self) -> AbstractAsyncContextManager[None]:
        return nullcontext()  # the deferred response already shows "thinking…"

    async def preview(self, text: str) -> None:
        """Command answers are not generated text: nothing to preview."""


def _log_failure(what: str, channel_id: int | None, index: int, total: int, exc: discord.HTTPException) -> None:
    log.error(
        "discord: %s failed in channel %s (part %d of %d): HTTP %s, code %s: %s",
        what,
        channel_id,
        index + 1,
        total,
        exc.status,
        exc.code,
        exc.text,
    )
