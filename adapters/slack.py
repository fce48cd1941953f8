"""The Slack adapter: slack-bolt (async) traffic in, the core's replies out, nothing lost.

One workspace with its bot token, or (`slack_installs`) every workspace that installed the
app, each answered with its own token (`slack_workspaces`).

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
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any, cast

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped, warning_token_skipped
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.async_handler import default_interval_calculator
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack_http import SlackHttp
from adapters.slack_installs import Installs
from adapters.slack_outbox import CommandOutbox, EarlierReply, ThreadOutbox, earlier_reply
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
from adapters.slack_web import ApiFailure, RateLimitWatch, SlackWeb, web_client
from adapters.slack_workspaces import Workspace, Workspaces
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
    """Serves one Slack workspace, or every one that installed the app (`installs`: the database
    of the installations); implements `bot.events.Adapter`."""

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
        installs: AsyncEngine | None = None,
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
        self._web: SlackWeb | None = None  # one workspace: its client (for auth.test and Socket Mode)
        self._workspaces: Workspaces | None = None
        self._installs = Installs(config, secrets, installs) if installs is not None else None
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
        if self._installs is not None and self.mode == "socket":
            env = self._config.app_token_env
            raise AdapterError(f"Slack installs in many workspaces run in HTTP mode: unset {env}")
        if self._installs is None and not self._secrets.slack_bot_token:
            raise AdapterError(f"Slack needs a bot token: set {self._config.bot_token_env}")
        if self.mode == "http" and not self._secrets.slack_signing_secret:
            raise AdapterError(
                f"Slack HTTP mode needs {self._config.signing_secret_env} "
                f"(or set {self._config.app_token_env} for Socket Mode)"
            )
        self._session = aiohttp.ClientSession()
        self._workspaces = Workspaces(
            self._session,
            base_url=self._config.api_base_url,
            admin_users=self._config.admin_users,
            backoff=self._backoff,
            token=self._installs.token if self._installs is not None else self._the_token,
        )
        if self._installs is not None:  # no token of its own: Bolt's client only trades install codes
            client = web_client("", self._config.api_base_url, self._session, RateLimitWatch(), backoff=self._backoff)
            await self._start_app(self._build_app(client))
            log.info("slack: serving every workspace that installs the app (%s)", self._config.install_path)
            return
        home = await self._workspaces.get("")
        assert home is not None
        self._web = home.web
        try:
            self._identity = await self._web.auth_test()
        except ApiFailure as exc:
            await self.stop()
            if exc.status:
                env = self._config.bot_token_env
                raise AdapterError(f"Slack rejected the bot token from {env}: {exc.reason}") from None
            raise AdapterError(f"cannot reach the Slack Web API at {home.web.client.base_url}: {exc.reason}") from None
        self._bot_user_id = str(self._identity.get("user_id") or "")
        await self._start_app(self._build_app(self._web.client))

    async def _start_app(self, app: AsyncApp) -> None:
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

        installs = self._installs
        # Bolt takes an AsyncAuthorize as `authorize` (and lets it stand beside oauth_settings);
        # its type hint names only plain functions.
        chosen = authorize if installs is None else cast(Callable[..., Awaitable[AuthorizeResult]], installs.authorize)
        app = AsyncApp(
            client=client,
            authorize=chosen,
            oauth_settings=None if installs is None else installs.settings,
            signing_secret=self._secrets.slack_signing_secret,  # a str, so Bolt reads no env var
            request_verification_enabled=self.mode == "http",
            process_before_response=True,  # listeners claim the event before Slack gets its ack
            raise_error_for_unhandled_request=True,
            logger=bolt_log,
        )
        if installs is not None:  # app_uninstalled, tokens_revoked: the install is deleted
            app.enable_token_revocation_listeners()
        app.event("app_mention")(self._on_app_mention)
        app.event("message")(self._on_message)
        app.command(COMMAND)(self._on_command)
        app.error(self._on_error)
        return app

    async def _start_socket(self, app: AsyncApp) -> None:
        assert self._web is not None  # Socket Mode serves one workspace
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

    async def _on_app_mention(self, body: dict[str, Any], context: AsyncBoltContext) -> BoltResponse | None:
        bot = context.bot_user_id or self._bot_user_id  # the workspace's own bot user
        return await self._accept_event(body, lambda: incoming(body, bot, mention=True))

    async def _on_message(self, body: dict[str, Any], context: AsyncBoltContext) -> BoltResponse | None:
        bot = context.bot_user_id or self._bot_user_id
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
            workspace = None if isinstance(work, Change) else await self._workspace(work)
            if isinstance(work, Change):
                await self._apply(work)
            elif workspace is None:
                log.warning("slack: %s comes from workspace %s, which has not installed the app", key, _team(work))
            elif busy:
                await self._answer_busy(work, workspace)
            elif isinstance(work, Incoming):
                await self._answer(work, workspace, retry=retry)
            else:
                await self._command(work, workspace)
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

    async def _answer(self, message: Incoming, workspace: Workspace, *, retry: bool) -> None:
        """Hand `message` to the core; on a retry (an earlier try was cut off), not if that try's
        reply arrived, and in the placeholder or note it left."""
        earlier = await self._earlier(message, workspace.web) if retry else None
        if earlier is not None and earlier.done:
            log.info("slack: message %s in %s was answered before; not again", message.ts, message.channel)
            return
        author = await workspace.people.author(message.user)
        if author.is_bot:
            return
        event = _event(message, author)
        outbox = self._thread_outbox(message, workspace, earlier="" if earlier is None else earlier.ts)
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

    async def _command(self, command: SlashCommand, workspace: Workspace) -> None:
        author = await workspace.people.author(command.user)
        request = Command(where=command.where, author=author, text=command.text, message_id=command.trigger_id)
        await self._core.on_command(request, self._command_outbox(command, workspace))

    async def _answer_busy(self, work: Work, workspace: Workspace) -> None:
        busy = Reply(messages.BUSY, ReplyKind.BUSY, ephemeral=True)
        if isinstance(work, Incoming):
            await self._thread_outbox(work, workspace).send(dataclasses.replace(busy, reply_to=work.ts))
        elif isinstance(work, SlashCommand):
            await self._command_outbox(work, workspace).send(busy)

    async def _workspace(self, work: Incoming | SlashCommand) -> Workspace | None:
        assert self._workspaces is not None
        return await self._workspaces.get(_team(work))

    async def _the_token(self, team: str) -> str:
        """One workspace: its bot token, whatever the team."""
        return self._secrets.slack_bot_token

    async def _earlier(self, message: Incoming, web: SlackWeb) -> EarlierReply | None:
        try:
            return await earlier_reply(web, message.channel, message.reply_thread, message.ts)
        except ApiFailure as exc:  # answering twice beats never answering
            log.warning("slack: cannot see what an earlier try left in %s (%s)", message.channel, exc.reason)
            return None

    def _thread_outbox(self, message: Incoming, workspace: Workspace, earlier: str = "") -> ThreadOutbox:
        return ThreadOutbox(
            workspace.web,
            channel=message.channel,
            thread_ts=message.reply_thread,
            user=message.user,
            answering=message.ts,
            placeholder=messages.SLACK_THINKING if self._config.placeholder else "",
            pace=workspace.pace,
            earlier=earlier,
        )

    def _command_outbox(self, command: SlashCommand, workspace: Workspace) -> CommandOutbox:
        return CommandOutbox(
            workspace.web, response_url=command.response_url, channel=command.where.channel, user=command.user
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


def _team(work: Incoming | SlashCommand) -> str:
    """The workspace `work` came from (DMs included; routes stored before `team` existed: `where`)."""
    return work.team or work.where.workspace


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
