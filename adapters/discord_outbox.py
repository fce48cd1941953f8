"""`Outbox` for Discord: replies to a message, or follow-ups to a deferred slash command.

Every send neutralises mass and role mentions, splits at 2,000 characters and passes
`AllowedMentions.none()`, so generated text can never ping anyone.

Failures never leave `send`: what Discord or the network does (a missing permission, a
deleted channel, an outage, a rate limit longer than the client waits) is logged with
Discord's status and code, and `send` returns None when not even the reply's first message
got out. discord.py itself waits out rate limits up to `MAX_RATELIMIT_WAIT_S` and retries
5xx answers, so a reply is retried, boundedly.

Previews never wait for Discord: a preview call gets `PREVIEW_WAIT_S` (one that takes
longer is stuck behind a rate limit or a slow network) and then previewing stops for that
reply. Its reply is posted as a new message and the stuck preview deleted, since editing
it would wait for the same rate limit. The typing indicator gets the same bound.

When the bot stops mid-reply, `abandon` leaves a note where the reply was being written:
the preview becomes the note, or the note is posted as the reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, nullcontext

import aiohttp
import discord

from adapters.discord_render import render, render_preview
from bot.events import Reply, ReplyKind
from bot.preview import CLOSE_WAIT_S

__all__ = [
    "MAX_RATELIMIT_WAIT_S",
    "NO_MENTIONS",
    "PLATFORM_ERRORS",
    "PREVIEW_WAIT_S",
    "InteractionOutbox",
    "MessageOutbox",
    "respond",
]

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
# What a REST call can raise when Discord or the network fails (RateLimited: a wait over the bound;
# OSError includes TimeoutError).
PLATFORM_ERRORS: tuple[type[Exception], ...] = (
    discord.HTTPException,
    discord.RateLimited,
    aiohttp.ClientError,
    OSError,
)
MAX_RATELIMIT_WAIT_S = 60.0  # the client's `max_ratelimit_timeout`: longer waits fail at once (30 s at least)
PREVIEW_WAIT_S = CLOSE_WAIT_S * 3 / 4  # a stuck preview gives up before the core stops waiting for it
TYPING_WAIT_S = PREVIEW_WAIT_S
NOTE_WAIT_S = 5.0  # for the restarting note while stopping


class MessageOutbox:
    """Answers one chat message in its channel or thread, as a reply to it.

    A preview of a slow reply is posted as that reply and edited as it grows; the finished
    reply's first piece replaces it (or, for a refusal or error, it is deleted first), and
    `close()` deletes a preview no reply replaced. `preview=` hands over a message of ours
    that an earlier run left in place of the reply (a preview or a restarting note).
    """

    def __init__(self, message: discord.Message, *, preview: discord.Message | None = None) -> None:
        self._message = message
        self._preview = preview
        self._stuck = False  # a preview call overran PREVIEW_WAIT_S: the preview is not edited again
        self.delivered = False  # a reply (its first message at least) reached Discord

    @property
    def _channel_id(self) -> int:
        return self._message.channel.id

    def _reference(self, reply_to: str = "") -> discord.MessageReference:
        message = self._message
        return discord.MessageReference(
            message_id=int(reply_to) if reply_to.isdigit() else message.id,
            channel_id=message.channel.id,
            guild_id=message.guild.id if message.guild else None,
            fail_if_not_exists=False,
        )

    async def preview(self, text: str) -> None:
        shown = render_preview(text)
        if self._stuck or not shown:
            return
        finished = False
        try:
            async with asyncio.timeout(PREVIEW_WAIT_S):
                if self._preview is None:
                    self._preview = await self._message.channel.send(
                        shown, reference=self._reference(), allowed_mentions=NO_MENTIONS
                    )
                else:
                    self._preview = await self._preview.edit(content=shown, allowed_mentions=NO_MENTIONS)
            finished = True
        except TimeoutError:
            log.warning(
                "discord: a preview in channel %s took over %.1f s (rate limited?); no more previews for this reply",
                self._channel_id,
                PREVIEW_WAIT_S,
            )
        except PLATFORM_ERRORS as exc:
            _log_failure("preview", self._channel_id, 0, 1, exc)
        finally:
            self._stuck = not finished  # also when cancelled (the preview was closed)

    async def send(self, reply: Reply) -> str | None:
        pieces = render(reply)
        first: str | None = None
        if self._preview is not None and not self._stuck and pieces:
            if reply.kind is ReplyKind.CHAT:
                first = await self._replace_preview(pieces[0])
            else:  # a refusal or an apology never stands below half a reply
                await self._delete_preview()
        for index, piece in enumerate(pieces):
            if index == 0 and first is not None:
                continue
            try:
                if index == 0:  # the first piece is the reply; the rest continue it
                    sent = await self._message.channel.send(
                        piece, reference=self._reference(reply.reply_to), allowed_mentions=NO_MENTIONS
                    )
                    first = str(sent.id)
                else:
                    await self._message.channel.send(piece, allowed_mentions=NO_MENTIONS)
            except PLATFORM_ERRORS as exc:
                _log_failure(f"{reply.kind.value} reply", self._channel_id, index, len(pieces), exc)
                break
        await self._delete_preview()  # stuck or not replaced: the reply is out (or failed); the preview goes
        self.delivered = self.delivered or first is not None
        return first

    async def abandon(self, note: str) -> None:
        """The reply was cut off (stopping): the preview becomes `note`, or `note` is posted as the reply."""
        try:
            async with asyncio.timeout(NOTE_WAIT_S):
                if self._preview is not None and not self._stuck and await self._replace_preview(note):
                    return
                await self._message.channel.send(note, reference=self._reference(), allowed_mentions=NO_MENTIONS)
                await self._delete_preview()
        except TimeoutError:
            log.warning("discord: the restarting note in channel %s took over %.0f s", self._channel_id, NOTE_WAIT_S)
        except PLATFORM_ERRORS as exc:
            _log_failure("restarting note", self._channel_id, 0, 1, exc)

    async def close(self) -> None:
        """Delete a preview that no reply replaced."""
        await self._delete_preview()

    async def _replace_preview(self, text: str) -> str | None:
        """Edit the preview into `text`: its id, or None when that failed (it stays, to be deleted)."""
        preview = self._preview
        if preview is None:
            return None
        try:
            await preview.edit(content=text, allowed_mentions=NO_MENTIONS)
        except PLATFORM_ERRORS as exc:  # e.g. someone deleted it: post the reply instead
            _log_failure("replacing the preview", self._channel_id, 0, 1, exc)
            return None
        self._preview = None
        return str(preview.id)

    async def _delete_preview(self) -> None:
        preview, self._preview = self._preview, None
        if preview is None:
            return
        try:
            await preview.delete()
        except PLATFORM_ERRORS as exc:
            _log_failure("deleting the preview", self._channel_id, 0, 1, exc)

    def working(self) -> AbstractAsyncContextManager[None]:
        return self._typing()

    @asynccontextmanager
    async def _typing(self) -> AsyncIterator[None]:
        """Discord's typing indicator while the body runs; a failure to show it is only logged."""
        async with AsyncExitStack() as stack:
            try:
                async with asyncio.timeout(TYPING_WAIT_S):
                    await stack.enter_async_context(self._message.channel.typing())
            except PLATFORM_ERRORS as exc:  # TimeoutError is an OSError
                log.warning("discord: typing indicator failed in channel %s: %r", self._channel_id, exc)
            yield


class InteractionOutbox:
    """Answers one slash command: `defer()` first, then every reply is an ephemeral follow-up."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self._interaction = interaction
        self.delivered = False

    async def defer(self) -> bool:
        """Acknowledge within Discord's 3 s ("thinking…", visible only to the author)."""
        try:
            await self._interaction.response.defer(ephemeral=True, thinking=True)
        except PLATFORM_ERRORS as exc:
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
            except PLATFORM_ERRORS as exc:
                _log_failure("command answer", self._interaction.channel_id, index, len(pieces), exc)
                return None if index == 0 else ""
            self.delivered = True
        return ""

    async def abandon(self, note: str) -> None:
        """The command was cut off (stopping): `note` replaces "thinking…"."""
        try:
            async with asyncio.timeout(NOTE_WAIT_S):
                await self.send(Reply(note, ReplyKind.ERROR, ephemeral=True))
        except TimeoutError:
            log.warning("discord: the restarting note for a command took over %.0f s", NOTE_WAIT_S)

    def working(self) -> AbstractAsyncContextManager[None]:
        return nullcontext()  # the deferred response already shows "thinking…"

    async def preview(self, text: str) -> None:
        """Command answers are not generated text: nothing to preview."""


async def respond(interaction: discord.Interaction, text: str) -> None:
    """Answer an interaction at once, visible only to its author (no defer, no core)."""
    try:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
    except PLATFORM_ERRORS as exc:
        _log_failure("interaction answer", interaction.channel_id, 0, 1, exc)


def _log_failure(what: str, channel_id: int | None, index: int, total: int, exc: Exception) -> None:
    if isinstance(exc, discord.HTTPException):
        detail = f"HTTP {exc.status}, code {exc.code}: {exc.text}"
    elif isinstance(exc, discord.RateLimited):
        detail = f"rate limited for {exc.retry_after:.0f} s, longer than the {MAX_RATELIMIT_WAIT_S:.0f} s the bot waits"
    else:
        detail = f"{type(exc).__name__}: {exc}"
    log.error("discord: %s failed in channel %s (part %d of %d): %s", what, channel_id, index + 1, total, detail)
