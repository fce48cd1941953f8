"""Chat messages on Discord, from the gateway or recovered from the inbox, to the core and back.

A message the core may answer (`Core.may_answer`: addressed, or auto-reply is on there)
is claimed in the inbox before it is handled and marked done once handled, so none is
lost: one the bot took but never answered (stopped or crashed) is fetched again through
REST after the restart, as it reads then, and answered (`recover`). Other messages cost
no write at all. Beyond `MAX_PENDING` handlings a message is answered "busy"; while the
bot stops, a new message is claimed and left for after the restart, with a note.

A handling cut off by a stop leaves `messages.restarting(...)` where its reply was being
written (the preview, or a new reply) and gives its message back to the inbox; one whose
reply already reached Discord is done.
"""

from __future__ import annotations

import asyncio
import logging

import discord

from adapters.discord_claims import Claims
from adapters.discord_handlings import Handlings, Session
from adapters.discord_outbox import PLATFORM_ERRORS, MessageOutbox
from adapters.discord_recovery import refetch, route_of
from adapters.discord_translate import message_event
from bot import messages
from bot.config import DiscordSection
from bot.events import Core, Event, Reply, ReplyKind
from bot.inbox import Claim, Delivery

__all__ = ["Messages"]

log = logging.getLogger(__name__)


class Messages:
    def __init__(
        self,
        config: DiscordSection,
        core: Core,
        claims: Claims,
        handlings: Handlings,
        session: Session,
        *,
        recovers: bool,
    ) -> None:
        self._config = config
        self._core = core
        self._claims = claims
        self._handlings = handlings
        self._session = session
        self._recovers = recovers  # messages given back to the inbox are answered after a restart

    async def on_message(self, message: discord.Message) -> None:
        me = self._session.me
        if me is None:
            return
        event = message_event(message, me, self._config)
        if event is None or not await self._core.may_answer(event):
            return
        outbox = MessageOutbox(message)
        key = Claims.key(event.message_id)
        if self._handlings.full and not self._session.paused:
            log.warning("discord: %d handlings in flight; %s is answered busy", len(self._handlings), key)
            await outbox.send(Reply(messages.BUSY, ReplyKind.BUSY, reply_to=event.message_id))
            return
        with self._handlings.tracked():
            claim = await self._claims.claim(key, route_of(message))
            if claim is Claim.DUPLICATE:
                log.info("discord: %s is handled already", key)
                return
            if self._session.paused:  # stopping: answered after the restart
                await outbox.abandon(messages.restarting(answer_later=self._later(claim)))
                await self._claims.release(key, claim)
                return
            await self._answer(event, outbox, key, claim)

    async def recover(self, delivery: Delivery) -> None:
        """Answer a message left unanswered earlier (the `handle` of `bot.inbox.recover`)."""
        await self._handlings.room()
        if self._session.paused:
            await self._claims.release(delivery.key, Claim.RETRY)
            return
        self._handlings.spawn(self._answer_recovered(delivery), name=f"discord-recover-{delivery.key}")

    async def _answer(self, event: Event, outbox: MessageOutbox, key: str, claim: Claim | None) -> None:
        """Hand `event` to the core; mark it done, or (cut off by a stop) leave the note and release it."""
        handed_back = False
        try:
            await self._core.on_message(event, outbox)
        except asyncio.CancelledError:
            handed_back = self._handlings.handed_back()
            if outbox.delivered:
                await self._claims.done(key, claim)
            else:
                if not handed_back:
                    await outbox.abandon(messages.restarting(answer_later=self._later(claim)))
                await self._claims.release(key, claim)
            raise
        except Exception:
            log.exception("discord: the core failed on message %s", event.message_id)
            await outbox.send(Reply(messages.ERROR, ReplyKind.ERROR, reply_to=event.message_id))
        finally:
            if not handed_back:
                await outbox.close()  # a preview the core never replaced (e.g. `reset` cancelled it)
        await self._claims.done(key, claim)

    async def _answer_recovered(self, delivery: Delivery) -> None:
        client, me, key = self._session.client, self._session.me, delivery.key
        if client is None or me is None:
            await self._claims.release(key, Claim.RETRY)
            return
        try:
            found = await refetch(client, delivery.route)
        except asyncio.CancelledError:
            await self._claims.release(key, Claim.RETRY)
            raise
        except PLATFORM_ERRORS as exc:
            log.warning("discord: could not fetch %s again to answer it (%r); trying later", key, exc)
            await self._claims.release(key, Claim.RETRY)
            return
        if found is None:
            log.info("discord: %s was deleted before it was answered", key)
            await self._claims.done(key, Claim.RETRY)
            return
        outbox = MessageOutbox(found.message, preview=found.leftover)
        event = message_event(found.message, me, self._config)
        if event is None or not await self._core.may_answer(event):  # edited since: no longer for the bot
            await outbox.close()
            await self._claims.done(key, Claim.RETRY)
            return
        log.info("discord: answering %s, left unanswered by an earlier run", key)
        await self._answer(event, outbox, key, Claim.RETRY)

    def _later(self, claim: Claim | None) -> bool:
        """Whether a cut-off message will be answered after the restart (else: ask again)."""
        return claim is not None and self._recovers
