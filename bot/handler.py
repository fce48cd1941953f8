"""The chat pipeline, top to bottom: gate → input check → store → prompt → generate → output check → reply.

`ChatHandler` is the `Core` every adapter calls. It never raises to the adapter: user
mistakes become refusals, overload becomes "busy", and anything unexpected is logged with
its traceback while the user gets a short apology without exception text. Cancellation
(shutdown) is the one thing that goes through: the user's turn then stays stored and
unanswered, for the inbox to hand out again.

Each conversation answers one message at a time, in order (`bot.turns`, across processes too):
the reply is generated, sent, and stored (only once it reached the platform) before the next
message's prompt is built.
Every message ends — with a reply, "busy", a refusal or an apology — within
`inference.timeout_s` plus `REPLY_MARGIN_S` of arriving, whatever hangs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from collections import Counter

from bot import messages, metrics
from bot.commands import CommandRunner
from bot.config import Config
from bot.errors import Busy, GenerationCancelled, GenerationTimeout
from bot.events import ChannelRef, Command, Event, Outbox, Reply, ReplyKind
from bot.guard import Guard, Screen
from bot.history import History
from bot.inference.types import GenerationRequest, Generator
from bot.logs import bind, context, log_context, new_ref
from bot.preview import ReplyPreview
from bot.prompt import SPEAKER_STOP, Prompt
from bot.ratelimit import RateLimiter
from bot.settings import ChannelSettings, for_channel
from bot.store import Store
from bot.turns import LocalTurns, Turns

__all__ = ["BOT_AUTHOR_ID", "REPLY_MARGIN_S", "ChatHandler"]

log = logging.getLogger(__name__)

BOT_AUTHOR_ID = "gpt2bot"
MAX_WAITING_PER_CHANNEL = 4  # messages queued behind a channel's running reply before "busy"
OUTPUT_ATTEMPTS = 3  # the first reply and up to two regenerations
REPLY_MARGIN_S = 10.0  # beyond inference.timeout_s, for checks and the store, before a message is given up


@dataclasses.dataclass(frozen=True)
class _Answer:
    reply: Reply
    prompt: Prompt | None = None  # the prompt of a generated reply


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
        turns: Turns | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._generator = generator
        self._history = history
        self._commands = commands
        self._limiter = limiter
        self._guard = guard
        self._turns = turns or LocalTurns()  # SharedTurns when several processes share the conversations
        self._in_line: Counter[str] = Counter()  # this process's messages holding or waiting for their turn

    # --- Core --------------------------------------------------------------------------

    async def on_command(self, command: Command, outbox: Outbox) -> None:
        with log_context(ref=new_ref(), platform=command.where.platform, channel=command.where.key):
            try:
                reply = await self._commands.run(command)
            except Exception:
                log.exception("command %r in %s failed", command.text[:80], command.where.key)
                reply = Reply(messages.ERROR, ReplyKind.ERROR, ephemeral=True, reply_to=command.message_id)
            await _send(outbox, reply)

    async def may_answer(self, event: Event) -> bool:
        try:
            return await self._wanted(event)
        except Exception:  # claiming one message too many beats losing one
            log.exception("reading the state of %s failed", event.where.key)
            return True

    async def _wanted(self, event: Event) -> bool:
        """It has text, and is addressed to the bot or said where auto-reply is on."""
        if not event.text.strip():
            return False
        return event.addressed or (await self._store.channel_state(event.where)).enabled

    async def on_message(self, event: Event, outbox: Outbox) -> None:
        # One reference per message: in every log line about it, and in a refusal the user sees.
        with log_context(ref=new_ref(), platform=event.where.platform, channel=event.where.key):
            started = time.monotonic()
            try:
                await self._answer(event, outbox)
            except Exception:
                log.exception("message %s in %s failed", event.message_id, event.where.key)
                await _send(outbox, self._reply(event, messages.ERROR, ReplyKind.ERROR))
            _record(time.monotonic() - started)

    async def on_message_edited(self, where: ChannelRef, message_id: str, text: str) -> None:
        try:
            if self._guard is not None:
                screen = await self._guard.screen(where, "")
                decision = await screen.check_input(text)
                if decision.blocked:  # what it says now may not reach a prompt at all
                    removed = await self._store.delete_message(where, message_id)
                    log.info(
                        "edited message %s in %s is blocked now; %d turn(s) removed", message_id, where.key, removed
                    )
                    return
                text = decision.text
            await self._store.edit_message(where, message_id, text)
        except Exception:
            log.exception("applying the edit of message %s in %s failed", message_id, where.key)

    async def on_message_deleted(self, where: ChannelRef, message_id: str) -> None:
        try:
            removed = await self._store.delete_message(where, message_id)
            if removed:
                log.info("message %s deleted in %s: %d stored turn(s) removed", message_id, where.key, removed)
        except Exception:
            log.exception("forgetting deleted message %s in %s failed", message_id, where.key)

    # --- the pipeline ------------------------------------------------------------------

    async def _answer(self, event: Event, outbox: Outbox) -> None:
        deadline = asyncio.get_running_loop().time() + self._config.inference.timeout_s + REPLY_MARGIN_S
        if not await self._wanted(event):
            return
        if len(event.text) > self._config.bot.max_input_chars:
            limit = self._config.bot.max_input_chars
            await _send(outbox, self._reply(event, messages.input_too_long(limit), ReplyKind.REFUSAL))
            return
        user_key = f"{event.where.platform}:{event.author.id}"
        wait = 0.0 if event.author.is_moderator else await self._limiter.check(user_key, event.where.key)
        if wait > 0:
            await _send(outbox, self._reply(event, messages.rate_limited(wait), ReplyKind.BUSY))
            return
        screen = None if self._guard is None else await self._guard.screen(event.where, event.author.id)
        text = event.text
        if screen is not None:
            bind(stage="input_check")
            decision = await screen.check_input(text)
            if decision.blocked:
                answer = messages.SELF_HARM_SUPPORT if decision.self_harm else messages.input_blocked(decision.ref)
                await _send(outbox, self._reply(event, answer, ReplyKind.REFUSAL))
                return
            text = decision.text
        key = event.where.key
        if self._in_line[key] > MAX_WAITING_PER_CHANNEL:
            await _send(outbox, self._reply(event, messages.BUSY, ReplyKind.BUSY))
            return
        self._in_line[key] += 1
        try:
            await self._answer_in_turn(event, text, screen, outbox, deadline)
        finally:
            self._in_line[key] -= 1
            if self._in_line[key] == 0:
                del self._in_line[key]

    async def _answer_in_turn(
        self, event: Event, text: str, screen: Screen | None, outbox: Outbox, deadline: float
    ) -> None:
        """Wait for the conversation's earlier messages, then store, generate, send, store."""
        try:
            async with asyncio.timeout_at(deadline):
                turn = await self._turns.take(event.where, event.message_id)
        except TimeoutError:  # earlier messages took all the time: keep what was said, apologise
            await self._history.add_user_turn(event.where, event.author, text, event.message_id)
            log.warning("message %s in %s waited too long for its turn", event.message_id, event.where.key)
            await _send(outbox, self._reply(event, messages.TIMEOUT, ReplyKind.ERROR))
            return
        try:
            bind(stage="generate")
            await self._history.add_user_turn(event.where, event.author, text, event.message_id)
            settings = for_channel(self._config, await self._store.channel_state(event.where))
            answer = await self._generate_in_time(event, settings, screen, outbox, deadline)
            if answer is None:
                return
            await self._deliver(event, answer, outbox)
        finally:
            await turn.release()

    async def _generate_in_time(
        self, event: Event, settings: ChannelSettings, screen: Screen | None, outbox: Outbox, deadline: float
    ) -> _Answer | None:
        preview = self._preview(screen, outbox)
        try:
            async with outbox.working():
                try:
                    async with asyncio.timeout_at(deadline):
                        return await self._generate_checked(event, settings, screen, preview)
                except TimeoutError:
                    log.warning("message %s in %s was given up at its deadline", event.message_id, event.where.key)
                    return _Answer(self._reply(event, messages.TIMEOUT, ReplyKind.ERROR))
        finally:
            if preview is not None:
                await preview.close()  # no preview may land after the reply

    async def _deliver(self, event: Event, answer: _Answer, outbox: Outbox) -> None:
        reply, prompt = answer.reply, answer.prompt
        shown = reply
        if prompt is not None and prompt.turns_dropped and await self._store.note_trimmed(event.where):
            notice = messages.trimmed_notice(prompt.turns_used)
            shown = dataclasses.replace(reply, text=messages.with_notice(reply.text, notice))
        sent = await _send(outbox, shown)
        if reply.kind is not ReplyKind.CHAT:
            return
        if sent is None:  # the person never saw it: it must not shape the next prompt either
            log.warning("reply to %s in %s was not delivered; not stored", event.message_id, event.where.key)
            return
        await self._history.add_bot_turn(event.where, BOT_AUTHOR_ID, reply.text, sent)

    def _preview(self, screen: Screen | None, outbox: Outbox) -> ReplyPreview | None:
        interval = self._config.bot.preview_interval_s
        if interval <= 0:
            return None
        return ReplyPreview(outbox, None if screen is None else screen.allows_preview, interval)

    async def _generate_checked(
        self, event: Event, settings: ChannelSettings, screen: Screen | None, preview: ReplyPreview | None
    ) -> _Answer | None:
        """Generate, check the output, regenerate up to twice, then fall back to a canned reply."""
        for attempt in range(OUTPUT_ATTEMPTS):
            try:
                text, prompt = await self._generate(event, settings, attempt, preview)
            except Busy:
                return _Answer(self._reply(event, messages.BUSY, ReplyKind.BUSY))
            except GenerationTimeout:
                log.warning("generation timed out in %s", event.where.key)
                return _Answer(self._reply(event, messages.TIMEOUT, ReplyKind.ERROR))
            except GenerationCancelled:
                log.info("generation cancelled in %s", event.where.key)
                return None
            if screen is None:
                return _Answer(self._reply(event, text, ReplyKind.CHAT), prompt)
            final = attempt == OUTPUT_ATTEMPTS - 1
            bind(stage="output_check")
            decision = await screen.check_output(text, attempt, final)  # raises: fail closed
            if not decision.blocked:
                return _Answer(self._reply(event, decision.text, ReplyKind.CHAT), prompt)
            log.info("output blocked in %s (attempt %d, ref %s)", event.where.key, attempt + 1, decision.ref)
        return _Answer(self._reply(event, messages.OUTPUT_BLOCKED, ReplyKind.REFUSAL))

    async def _generate(
        self, event: Event, settings: ChannelSettings, attempt: int, preview: ReplyPreview | None
    ) -> tuple[str, Prompt]:
        prompt = await self._history.prompt(event.where, settings)
        params = settings.sampling()
        if attempt:  # a retry must differ: sample with a fresh seed, even where the channel decodes greedily
            params = dataclasses.replace(params, do_sample=True, num_beams=1, seed=secrets.randbits(31))
        request = GenerationRequest(prompt.ids, params, event.where.key, SPEAKER_STOP, prompt.stop_strings)
        generation = await self._generator.submit(request, None if preview is None else preview.update)
        bind(queued_s=round(generation.queued_s, 3), generated_s=round(generation.generated_s, 3))
        bind(tokens=len(generation.token_ids))
        log.debug(
            "reply in %s: %d prompt + %d new tokens, %s, batch %d, %.2f s",
            event.where.key,
            len(prompt.ids),
            len(generation.token_ids),
            generation.finish_reason.value,
            generation.batch_size,
            generation.generated_s,
        )
        return generation.text.strip() or messages.EMPTY_REPLY, prompt

    def _reply(self, event: Event, text: str, kind: ReplyKind) -> Reply:
        return Reply(text, kind, ephemeral=kind in (ReplyKind.REFUSAL, ReplyKind.BUSY), reply_to=event.message_id)


_OUTCOMES = {ReplyKind.CHAT: "chat", ReplyKind.BUSY: "busy", ReplyKind.REFUSAL: "refusal", ReplyKind.ERROR: "error"}


def _outcome(reply: Reply) -> str:
    """How a message was answered, for the metrics and the log."""
    if reply.kind is ReplyKind.ERROR and reply.text == messages.TIMEOUT:
        return "timeout"
    return _OUTCOMES.get(reply.kind, "error")


def _record(seconds: float) -> None:
    """Count the message's answer by outcome and log it (a message nobody answered is not counted)."""
    outcome = context().get("outcome")
    if outcome is not None:
        metrics.record_reply(str(outcome), seconds)
        log.info("answered: %s in %.2f s", outcome, seconds)


async def _send(outbox: Outbox, reply: Reply) -> str | None:
    """Deliver `reply`; the platform id of its first message, or None when it did not arrive."""
    bind(stage="send", outcome=_outcome(reply))
    try:
        return await outbox.send(reply)
    except Exception:
        bind(outcome="error")
        log.exception("could not deliver a %s reply", reply.kind.value)
        return None
