"""The Slack adapter: slack-bolt (async) traffic in, the core's replies out, nothing lost.

Socket Mode when an app-level token is set, otherwise HTTP mode (`SlackHttp`: signature
checked before anything is parsed). Bolt runs with `process_before_response`, so its
listeners here run *before* Slack gets its acknowledgement, and all they do is make the
work durable: translate the payload (`slack_translate`), ask the core whether it may answer
a message at all (`Core.may_answer`: addressed, or auto-reply is on there; other chatter
costs no write), `claim` it in the inbox with a route to answer it from later, and start a
task for it. Slack gets its 200 only once the claim is stored, within milliseconds; a
listener that cannot store it refuses the request (HTTP 503 / no Socket Mode ack), so Slack
delivers it again. The task marks the event done
when the core has handled it; a redelivery (`X-Slack-Retry-Num`) of an answered or
running event is a duplicate and only acknowledged.

Nothing acknowledged is dropped. At most `max_pending` handlings run at once; beyond that
a mention, DM or command is answered "busy" (at most as many again), and anything else is
refused for Slack to deliver later. On `pause()` new requests are refused (HTTP 503;
Socket Mode disconnects); `stop()` cancels what still runs: each cancelled reply leaves a
"restarting" note where its placeholder stood, and its event goes back to the inbox.
A recovery loop (`bot.inbox.recover`) answers events left unanswered by a stopped or
crashed process, found in the inbox at start and every `recover_every_s`. Such a retry first
reads the thread (conversations.replies: the scopes that let the app see messages let it read
them): a reply the dead process delivered in its last moments, before marking the event done,
is not sent again, and its placeholder or "restarting" note is reused (see `slack_outbox`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped, warning_token_skipped
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.async_handler import default_interval_calculator
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator

from adapters.slack_http import SlackHttp
from adapters.slack_outbox import CommandOutbox, EarlierReply, ThreadOutbox, earlier_reply
from adapters.slack_people import People
from adapters.slack_translate import (
    Change,
    Incoming,
    SlashCommand,
    Work,
    change,
    from_route,
    incoming,
    route,
    slash_command,
)
from adapters.slack_web import ApiFailure, PreviewPace, RateLimitWatch, SlackWeb, web_client
from bot import messages
from bot.config import Secrets, SlackSection
from bot.errors import AdapterError
from bot.events import Author, Command, Core, Event, Reply, ReplyKind
from bot.inbox import Claim, Delivery, Inbox, recover

__all__ = ["MAX_PENDING", "SlackAdapter"]

log = logging.getLogger(__name__)

COMMAND = "/gpt2"
MAX_PENDING = 256  # handlings in flight; beyond this mentions are answered "busy"
_CONNECT_TIMEOUT_S = 30.0
_STOP_GRACE_S = 5.0  # how long stop() lets cancelled handlings leave their notes


class _BoltNoise(logging.Filter):
    """Drops Bolt's start-up warnings that the SLACK_BOT_TOKEN variable or a token goes unused.

    The token reaches Slack through the client built here (from the variable the config
    names), and authorization comes from the `auth.test` made at start, so they only mislead.
    """

    _TEXTS = frozenset({warning_client_prioritized_and_token_skipped(), warning_token_skipped()})

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in self._TEXTS


_BOLT_NOISE = _BoltNoise()


class SlackAdapter:
    """Serves one Slack workspace; implements `bot.events.Adapter`."""

    name = "slack"

    def __init__(
        self,
        config: SlackSection,
        secrets: Secrets,
        core: Core,
        inbox: Inbox,
        *,
        recover_within: timedelta = timedelta(minutes=15),
        recover_every_s: float = 10.0,
        max_pending: int = MAX_PENDING,
        backoff: RetryIntervalCalculator = default_interval_calculator,
    ) -> None:
        self._config = config
        self._secrets = secrets
        self._core = core
        self._inbox = inbox
        self._recover_within = recover_within
        self._recover_every_s = recover_every_s
        self._max_pending = max_pending
        self._backoff = backoff  # between retries of a failed Web API call
        self._paused = False
        self._tasks: set[asyncio.Task[None]] = set()  # handlings and busy answers
        self._busy: set[asyncio.Task[None]] = set()  # the busy answers among them
        self._room = asyncio.Event()  # set whenever a handling ends
        self._stopped = asyncio.Event()
        self._recovery: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._web: SlackWeb | None = None
        self._people: People | None = None
        self._pace: PreviewPace | None = None
        self._http: SlackHttp | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._identity: Mapping[str, Any] = {}
        self._bot_user_id = ""
        self.url = ""  # HTTP mode: where Slack should send requests, once started

    @property
    def mode(self) -> str:
        """ "socket" when an app-level token is set, otherwise "http"."""
        return "socket" if self._secrets.slack_app_token else "http"

    @property
    def pending(self) -> int:
        """Handlings still running (acknowledged events whose work is not done)."""
        return len(self._tasks)

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        if not self._secrets.slack_bot_token:
            raise AdapterError(f"Slack needs a bot token: set {self._config.bot_token_env}")
        if self.mode == "http" and not self._secrets.slack_signing_secret:
            raise AdapterError(
                f"Slack HTTP mode needs {self._config.signing_secret_env} "
                f"(or set {self._config.app_token_env} for Socket Mode)"
            )
        self._session = aiohttp.ClientSession()
        watch = RateLimitWatch()
        client = web_client(
            self._secrets.slack_bot_token, self._config.api_base_url, self._session, watch, backoff=self._backoff
        )
        self._web = SlackWeb(client)
        self._people = People(self._web, self._config.admin_users)
        self._pace = PreviewPace(watch)
        try:
            self._identity = await self._web.auth_test()
        except ApiFailure as exc:
            await self.stop()
            if exc.status:
                env = self._config.bot_token_env
                raise AdapterError(f"Slack rejected the bot token from {env}: {exc.reason}") from None
            raise AdapterError(f"cannot reach the Slack Web API at {client.base_url}: {exc.reason}") from None
        self._bot_user_id = str(self._identity.get("user_id") or "")
        app = self._build_app(client)
        try:
            if self.mode == "socket":
                await self._start_socket(app)
            else:
                self._http = SlackHttp(app, self._secrets.slack_signing_secret, paused=lambda: self._paused)
                self.url = await self._http.start(self._config.host, self._config.port, self._config.path)
                log.info("slack: HTTP mode, listening on %s", self.url)
        except BaseException:
            await self.stop()
            raise
        if self._recover_within > timedelta(0):
            self._recovery = asyncio.create_task(
                recover(
                    self._inbox,
                    "slack",
                    self._recovered,
                    max_age=self._recover_within,
                    every_s=self._recover_every_s,
                ),
                name="slack-recovery",
            )

    async def wait(self) -> None:
        await self._stopped.wait()

    async def pause(self) -> None:
        self._paused = True  # HTTP: new requests get 503, so Slack retries them (elsewhere)
        await self._stop_recovery()
        if self._socket is not None:  # Slack sends to the app's other connections, or again later
            socket, self._socket = self._socket, None
            await socket.close_async()

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def stop(self) -> None:
        await self.pause()
        if self._http is not None:
            http, self._http = self._http, None
            await http.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()  # each leaves a "restarting" note and releases its event
        if tasks:
            await asyncio.wait(tasks, timeout=_STOP_GRACE_S)
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
        self._stopped.set()

    async def _stop_recovery(self) -> None:
        if self._recovery is not None:
            task, self._recovery = self._recovery, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- wiring -------------------------------------------------------------------------

    def _build_app(self, client: Any) -> AsyncApp:
        bolt_log = logging.getLogger("adapters.slack.bolt")
        if _BOLT_NOISE not in bolt_log.filters:
            bolt_log.addFilter(_BOLT_NOISE)
        identity = self._identity

        async def authorize() -> AuthorizeResult:  # from the auth.test at start: no Web API call before an ack
            return AuthorizeResult(
                enterprise_id=identity.get("enterprise_id"),
                team_id=identity.get("team_id"),
                bot_user_id=self._bot_user_id or None,
                bot_id=identity.get("bot_id"),
                bot_token=self._secrets.slack_bot_token,
            )

        app = AsyncApp(
            client=client,
            authorize=authorize,
            signing_secret=self._secrets.slack_signing_secret,  # a str, so Bolt reads no env var
            request_verification_enabled=self.mode == "http",
            process_before_response=True,  # listeners claim the event before Slack gets its ack
            raise_error_for_unhandled_request=True,
            logger=bolt_log,
        )
        app.event("app_mention")(self._on_app_mention)
        app.event("message")(self._on_message)
        app.command(COMMAND)(self._on_command)
        app.error(self._on_error)
        return app

    async def _start_socket(self, app: AsyncApp) -> None:
        assert self._web is not None
        self._socket = AsyncSocketModeHandler(app, app_token=self._secrets.slack_app_token, web_client=self._web.client)
        try:
            self._socket.client.wss_uri = await self._web.connections_open(self._secrets.slack_app_token)
        except ApiFailure as exc:
            env = self._config.app_token_env
            raise AdapterError(f"Slack rejected the app token from {env}: {exc.reason}") from None
        try:
            await asyncio.wait_for(self._socket.connect_async(), _CONNECT_TIMEOUT_S)
        except TimeoutError:
            raise AdapterError("Slack Socket Mode: no websocket connection within 30 s") from None
        log.info("slack: Socket Mode connected")

    # --- listeners: run before the ack; they only make the work durable and start it ------

    async def _on_app_mention(self, body: dict[str, Any]) -> BoltResponse | None:
        return await self._accept_event(body, lambda: incoming(body, self._bot_user_id, mention=True))

    async def _on_message(self, body: dict[str, Any]) -> BoltResponse | None:
        bot = self._bot_user_id
        return await self._accept_event(body, lambda: incoming(body, bot, mention=False) or change(body, bot))

    async def _on_command(self, ack: AsyncAck, body: dict[str, Any]) -> BoltResponse | None:
        try:
            command = slash_command(body)
        except Exception:  # a bug, not the request: Slack should try again, and the log show it
            log.exception("slack: reading a /gpt2 command failed")
            return _refuse("error")
        refused = await self._accept(f"slack:command:{command.trigger_id or secrets.token_hex(8)}", command)
        if refused is None:
            await ack()
        return refused

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> BoltResponse:
        """Bolt's own handling failed or found no listener: the request is not one we serve."""
        if isinstance(error, BoltUnhandledRequestError):
            if body.get("type") == "event_callback":  # an event type the app is subscribed to but ignores
                return BoltResponse(status=200, body="")
            log.debug("slack: no listener for a %s request", body.get("type") or "typeless")
            return BoltResponse(status=404, body="")
        log.warning("slack: answered 400 to a request Bolt could not process (%s)", type(error).__name__)
        log.debug("slack: what Bolt raised", exc_info=error)
        return BoltResponse(status=400, body="")

    async def _accept_event(
        self, body: Mapping[str, Any], read: Callable[[], Incoming | Change | None]
    ) -> BoltResponse | None:
        try:
            work = read()
        except Exception:  # a bug, not the request: Slack should try again, and the log show it
            log.exception("slack: reading an event failed")
            return _refuse("error")
        if work is None:
            return None
        if isinstance(work, Incoming) and not await self._core.may_answer(_event(work, Author(work.user, work.user))):
            return None  # not for the bot (auto-reply is off there): acknowledged, nothing to keep
        event = body.get("event")
        event_ts = event.get("event_ts") if isinstance(event, Mapping) else None
        event_id = body.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            event_id = f"{work.where.channel}:{event_ts or getattr(work, 'ts', '')}"
        return await self._accept(f"slack:{event_id}", work)

    async def _accept(self, key: str, work: Work) -> BoltResponse | None:
        """Claim `work` and start it; a response refuses the request, so Slack delivers it again."""
        try:
            if self._paused:
                return _refuse("stopping")
            busy = len(self._tasks) - len(self._busy) >= self._max_pending
            if busy and (not _may_answer_busy(work) or len(self._busy) >= self._max_pending):
                log.warning("slack: %d handlings in flight; refusing an event for Slack to deliver later", self.pending)
                return _refuse("overloaded")
            try:
                claim = await self._inbox.claim(key, "slack", route(work), **_order(work))
            except Exception:
                log.exception("slack: the inbox failed; refusing %s so that Slack delivers it again", key)
                return _refuse("inbox unavailable")
            if claim is Claim.DUPLICATE:
                log.info("slack: %s was answered already or is being answered; acknowledging only", key)
                return None
            self._start(key, work, busy=busy, retry=claim is Claim.RETRY)
            return None
        except Exception:
            log.exception("slack: accepting %s failed", key)
            return _refuse("error")

    def _start(self, key: str, work: Work, *, busy: bool = False, retry: bool = False) -> None:
        task = asyncio.create_task(self._run(key, work, busy=busy, retry=retry), name=f"slack {key}")
        self._tasks.add(task)
        if busy:
            self._busy.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._busy.discard(task)
        self._room.set()

    async def _recovered(self, delivery: Delivery) -> None:
        """An event a stopped or crashed process left unanswered, claimed for this one."""
        work = from_route(delivery.route)
        if work is None:
            log.warning("slack: left-over event %s cannot be read by this version; dropping it", delivery.key)
            await self._inbox.done(delivery.key)
            return
        while len(self._tasks) - len(self._busy) >= self._max_pending:
            self._room.clear()
            await self._room.wait()
        self._start(delivery.key, work, retry=True)

    # --- the work (after the ack) ---------------------------------------------------------

    async def _run(self, key: str, work: Work, *, busy: bool, retry: bool) -> None:
        try:
            if busy:
                await self._answer_busy(work)
            elif isinstance(work, Incoming):
                await self._answer(work, retry=retry)
            elif isinstance(work, Change):
                await self._apply(work)
            else:
                await self._command(work)
        except asyncio.CancelledError:
            try:
                await self._inbox.release(key)  # stopping: answered after the restart
            except Exception:  # its lease runs out instead: answered a little later
                log.exception("slack: giving %s back to the inbox failed", key)
            raise
        except Exception:
            log.exception("slack: handling %s failed", key)
        try:
            await self._inbox.done(key)
        except Exception:
            log.exception("slack: marking %s answered failed; it may be answered again after a restart", key)

    async def _answer(self, message: Incoming, *, retry: bool) -> None:
        """Hand `message` to the core; on a retry (an earlier try was cut off), not if that try's
        reply arrived, and in the placeholder or note it left."""
        assert self._people is not None
        earlier = await self._earlier(message) if retry else None
        if earlier is not None and earlier.done:
            log.info("slack: message %s in %s was answered before; not again", message.ts, message.channel)
            return
        author = await self._people.author(message.user)
        if author.is_bot:
            return
        event = _event(message, author)
        outbox = self._thread_outbox(message, earlier="" if earlier is None else earlier.ts)
        cancelled = False
        try:
            await self._core.on_message(event, outbox)
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            if cancelled:
                await outbox.abandon(answer_later=self._recover_within > timedelta(0))
            else:
                await outbox.close()

    async def _apply(self, change: Change) -> None:
        if change.text is None:
            await self._core.on_message_deleted(change.where, change.message_id)
        else:
            await self._core.on_message_edited(change.where, change.message_id, change.text)

    async def _command(self, command: SlashCommand) -> None:
        assert self._people is not None
        author = await self._people.author(command.user)
        request = Command(where=command.where, author=author, text=command.text, message_id=command.trigger_id)
        await self._core.on_command(request, self._command_outbox(command))

    async def _answer_busy(self, work: Work) -> None:
        busy = Reply(messages.BUSY, ReplyKind.BUSY, ephemeral=True)
        if isinstance(work, Incoming):
            await self._thread_outbox(work).send(dataclasses.replace(busy, reply_to=work.ts))
        elif isinstance(work, SlashCommand):
            await self._command_outbox(work).send(busy)

    async def _earlier(self, message: Incoming) -> EarlierReply | None:
        assert self._web is not None
        try:
            return await earlier_reply(self._web, message.channel, message.reply_thread, message.ts)
        except ApiFailure as exc:  # answering twice beats never answering
            log.warning("slack: cannot see what an earlier try left in %s (%s)", message.channel, exc.reason)
            return None

    def _thread_outbox(self, message: Incoming, earlier: str = "") -> ThreadOutbox:
        assert self._web is not None
        return ThreadOutbox(
            self._web,
            channel=message.channel,
            thread_ts=message.reply_thread,
            user=message.user,
            answering=message.ts,
            placeholder=messages.SLACK_THINKING if self._config.placeholder else "",
            pace=self._pace,
            earlier=earlier,
        )

    def _command_outbox(self, command: SlashCommand) -> CommandOutbox:
        assert self._web is not None
        return CommandOutbox(
            self._web, response_url=command.response_url, channel=command.where.channel, user=command.user
        )


def _event(message: Incoming, author: Author) -> Event:
    return Event(
        where=message.where,
        author=author,
        text=message.text,
        message_id=message.ts,
        addressed=message.addressed,
        is_dm=message.is_dm,
    )


def _order(work: Work) -> dict[str, str]:
    """What puts a chat message in its conversation's order across processes (`bot.turns`)."""
    if isinstance(work, Incoming):
        return {"conversation": work.where.key, "message_id": work.ts}
    return {}


def _may_answer_busy(work: Work) -> bool:
    """Work someone waits for an answer to (a mention, a DM, a command)."""
    return isinstance(work, SlashCommand) or (isinstance(work, Incoming) and work.addressed)


def _refuse(why: str) -> BoltResponse:
    return BoltResponse(status=503, body=why, headers={"Retry-After": "1"})
