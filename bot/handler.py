"""The chat pipeline, top to bottom: gate → input check → store → prompt → generate → output check → reply.

`ChatHandler` is the `Core` every adapter calls. It never raises to the adapter: user
mistakes become refusals, overload becomes "busy", and anything unexpected is logged with
its traceback while the user gets a short apology without exception text.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from collections import defaultdict

from bot import messages
from bot.commands import CommandRunner
from bot.config import Config
from bot.errors import Busy, GenerationCancelled, GenerationTimeout
from bot.events import Command, Event, Outbox, Reply, ReplyKind
from bot.guard import Action, Guard
from bot.history import History
from bot.inference.types import GenerationRequest, Generator
from bot.preview import ReplyPreview
from bot.prompt import SPEAKER_STOP
from bot.ratelimit import RateLimiter
from bot.settings import ChannelSettings, for_channel
from bot.store import Store

__all__ = ["BOT_AUTHOR_ID", "ChatHandler"]

log = logging.getLogger(__name__)

BOT_AUTHOR_ID = "gpt2bot"
MAX_WAITING_PER_CHANNEL = 4  # messages queued behind a channel's running reply before "busy"
OUTPUT_ATTEMPTS = 3  # the first reply and up to two regenerations


class ChatHandler:
    def __init__(
        self,
        config: Config,
        store: Store,
        generator: Generator,
        history: History,
        commands: CommandRunner,
        limiter: RateLimiter,
        guard: Guard | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._generator = generator
        self._history = history
        self._commands = commands
        self._limiter = limiter
        self._guard = guard
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._in_line: defaultdict[str, int] = defaultdict(int)  # holding or waiting for the lock

    # --- Core --------------------------------------------------------------------------

    async def on_command(self, command: Command, outbox: Outbox) -> None:
        try:
            reply = await self._commands.run(command)
        except Exception:
            log.exception("command %r in %s failed", command.text[:80], command.where.key)
            reply = Reply(messages.ERROR, ReplyKind.ERROR, ephemeral=True, reply_to=command.message_id)
        await _send(outbox, reply)

    async def on_message(self, event: Event, outbox: Outbox) -> None:
        try:
            reply = await self._answer(event, outbox)
        except Exception:
            log.exception("message %s in %s failed", event.message_id, event.where.key)
            reply = Reply(messages.ERROR, ReplyKind.ERROR, reply_to=event.message_id)
        if reply is not None:
            await _send(outbox, reply)

    # --- the pipeline ------------------------------------------------------------------

    async def _answer(self, event: Event, outbox: Outbox) -> Reply | None:
        state = await self._store.channel_state(event.where)
        if not (event.addressed or state.enabled) or not event.text.strip():
            return None
        if len(event.text) > self._config.bot.max_input_chars:
            return self._reply(event, messages.input_too_long(self._config.bot.max_input_chars), ReplyKind.REFUSAL)
        user_key = f"{event.where.platform}:{event.author.id}"
        wait = 0.0 if event.author.is_moderator else self._limiter.check(user_key, event.where.key)
        if wait > 0:
            return self._reply(event, messages.rate_limited(wait), ReplyKind.BUSY)
        text = event.text
        if self._guard is not None:
            check = await self._guard.check_input(event)
            if check.action is Action.BLOCK:
                answer = messages.SELF_HARM_SUPPORT if check.self_harm else messages.input_blocked(check.ref)
                return self._reply(event, answer, ReplyKind.REFUSAL)
            text = check.text
        key = event.where.key
        if self._in_line[key] > MAX_WAITING_PER_CHANNEL:
            return self._reply(event, messages.BUSY, ReplyKind.BUSY)
        self._in_line[key] += 1
        try:
            async with self._locks[key]:  # one reply at a time per conversation, in order
                await self._history.add_user_turn(event.where, event.author, text, event.message_id)
                settings = for_channel(self._config, state)
                preview = self._preview(event, outbox)
                async with outbox.working():
                    try:
                        reply = await self._generate_checked(event, settings, preview)
                    finally:
                        if preview is not None:
                            await preview.close()  # no preview may land after the reply
                if reply is not None and reply.kind is ReplyKind.CHAT:
                    await self._history.add_bot_turn(event.where, BOT_AUTHOR_ID, reply.text)
                return reply
        finally:
            self._in_line[key] -= 1
            if self._in_line[key] == 0:  # nobody holds or waits for this lock any more
                del self._in_line[key]
                del self._locks[key]

    def _preview(self, event: Event, outbox: Outbox) -> ReplyPreview | None:
        interval = self._config.bot.preview_interval_s
        if interval <= 0:
            return None
        guard = self._guard
        allows = None if guard is None else lambda text: guard.allows_preview(text, event)
        return ReplyPreview(outbox, allows, interval)

    async def _generate_checked(
        self, event: Event, settings: ChannelSettings, preview: ReplyPreview | None
    ) -> Reply | None:
        """Generate, check the output, regenerate up to twice, then fall back to a canned reply."""
        for attempt in range(OUTPUT_ATTEMPTS):
            try:
                text = await self._generate(event, settings, attempt, preview)
            except Busy:
                return self._reply(event, messages.BUSY, ReplyKind.BUSY)
            except GenerationTimeout:
                log.warning("generation timed out in %s", event.where.key)
                return self._reply(event, messages.TIMEOUT, ReplyKind.ERROR)
            except GenerationCancelled:
                log.info("generation cancelled in %s", event.where.key)
                return None
            if self._guard is None:
                return self._reply(event, text, ReplyKind.CHAT)
            check = await self._guard.check_output(text, event, attempt)  # raises: fail closed
            if check.action is not Action.BLOCK:
                return self._reply(event, check.text, ReplyKind.CHAT)
            log.info("output blocked in %s (attempt %d, ref %s)", event.where.key, attempt + 1, check.ref)
        return self._reply(event, messages.OUTPUT_BLOCKED, ReplyKind.REFUSAL)

    async def _generate(
        self, event: Event, settings: ChannelSettings, attempt: int, preview: ReplyPreview | None
    ) -> str:
        prompt = await self._history.prompt(event.where, settings)
        params = settings.sampling()
        if attempt:  # a retry must differ: sample with a fresh seed, even where the channel decodes greedily
            params = dataclasses.replace(params, do_sample=True, num_beams=1, seed=secrets.randbits(31))
        request = GenerationRequest(prompt.ids, params, event.where.key, SPEAKER_STOP, prompt.stop_strings)
        generation = await self._generator.submit(request, None if preview is None else preview.update)
        log.debug(
            "reply in %s: %d prompt + %d new tokens, %s, batch %d, %.2f s",
            event.where.key,
            len(prompt.ids),
            len(generation.token_ids),
            generation.finish_reason.value,
            generation.batch_size,
            generation.generated_s,
        )
        return generation.text.strip() or messages.EMPTY_REPLY

    def _reply(self, event: Event, text: str, kind: ReplyKind) -> Reply:
        return Reply(text, kind, ephemeral=kind in (ReplyKind.REFUSAL, ReplyKind.BUSY), reply_to=event.message_id)


async def _send(outbox: Outbox, reply: Reply) -> None:
    try:
        await outbox.send(reply)
    except Exception:
        log.exception("could not deliver a %s reply", reply.kind.value)
