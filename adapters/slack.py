"""The Slack adapter: slack-bolt (async) traffic in, the core's replies out.

Socket Mode when an app-level token is set, otherwise HTTP mode: an aiohttp server on
`slack.host:port` + `slack.path`, where Bolt verifies every request's v0 signature and
rejects stale timestamps. Each request is acknowledged before any work starts (Bolt acks
events itself; the command listener acks first), then the work runs in a task this
adapter owns, bounded in number and cancelled on `stop()`. An event id is handled once,
through the seen-events store, so Slack's redeliveries (`X-Slack-Retry-Num`) never
produce a second reply, even across a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack_outbox import API_ERRORS, CommandOutbox, ThreadOutbox, reason
from adapters.slack_people import People
from adapters.slack_translate import Incoming, command_ref, incoming
from bot import messages
from bot.config import Secrets, SlackSection
from bot.errors import AdapterError
from bot.events import Command, Core, Event
from bot.inbox import Claim, Inbox

__all__ = ["SlackAdapter"]

log = logging.getLogger(__name__)

COMMAND = "/gpt2"
MAX_PENDING = 256  # handlings in flight; beyond this new requests are acked and dropped
_CONNECT_TIMEOUT_S = 30.0
_STOP_GRACE_S = 5.0  # how long stop() lets cancelled handlings tidy up


class _BoltNoise(logging.Filter):
    """Drops Bolt's start-up warning that SLACK_BOT_TOKEN in the environment goes unused.

    Bolt reads that variable whenever it is set, but the token reaches Slack through the
    client built here (from the variable the config names), so the warning only misleads.
    """

    _TEXT = warning_client_prioritized_and_token_skipped()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self._TEXT


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
    ) -> None:
        self._config = config
        self._secrets = secrets
        self._core = core
        self._inbox = inbox
        self._recover_within = recover_within
        self._paused = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self._people: People | None = None
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._bot_user_id = ""
        self.url = ""  # HTTP mode: where Slack should send requests, once started

    @property
    def mode(self) -> str:
        """ "socket" when an app-level token is set, otherwise "http"."""
        return "socket" if self._secrets.slack_app_token else "http"

    @property
    def pending(self) -> int:
        """Handlings still running (acked requests whose work is not done)."""
        return len(self._tasks)

    async def start(self) -> None:
        if not self._secrets.slack_bot_token:
            raise AdapterError(f"Slack needs a bot token: set {self._config.bot_token_env}")
        if self.mode == "http" and not self._secrets.slack_signing_secret:
            raise AdapterError(
                f"Slack HTTP mode needs {self._config.signing_secret_env} "
                f"(or set {self._config.app_token_env} for Socket Mode)"
            )
        self._session = aiohttp.ClientSession()
        client = AsyncWebClient(
            token=self._secrets.slack_bot_token,
            base_url=self._config.api_base_url or AsyncWebClient.BASE_URL,
            session=self._session,
            timeout=15,
        )
        self._client = client
        self._people = People(client, self._config.admin_users)
        try:
            identity = await client.auth_test()
        except API_ERRORS as exc:
            await self.stop()
            if isinstance(exc, SlackApiError):
                env = self._config.bot_token_env
                raise AdapterError(f"Slack rejected the bot token from {env}: {reason(exc)}") from None
            raise AdapterError(f"cannot reach the Slack Web API at {client.base_url}: {reason(exc)}") from None
        self._bot_user_id = str(identity.get("user_id") or "")
        app = self._build_app(client)
        try:
            if self.mode == "socket":
                await self._start_socket(app, client)
            else:
                await self._start_http(app)
        except BaseException:
            await self.stop()
            raise

    async def wait(self) -> None:
        await self._stopped.wait()

    async def pause(self) -> None:
        self._paused = True  # HTTP: new requests get 503, so Slack retries them (elsewhere)

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._socket is not None:
            socket, self._socket = self._socket, None
            await socket.close_async()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()  # each handling still deletes its placeholder on the way out
        if tasks:
            await asyncio.wait(tasks, timeout=_STOP_GRACE_S)
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
        self._stopped.set()

    # --- wiring -------------------------------------------------------------------

    def _build_app(self, client: AsyncWebClient) -> AsyncApp:
        bolt_log = logging.getLogger("adapters.slack.bolt")
        if _BOLT_NOISE not in bolt_log.filters:
            bolt_log.addFilter(_BOLT_NOISE)
        app = AsyncApp(
            client=client,
            signing_secret=self._secrets.slack_signing_secret,  # a str, so Bolt reads no env var
            request_verification_enabled=self.mode == "http",
            logger=bolt_log,
        )
        app.event("app_mention")(self._on_app_mention)
        app.event("message")(self._on_message)
        app.command(COMMAND)(self._on_command)
        return app

    async def _start_http(self, app: AsyncApp) -> None:
        async def handle(request: web.Request) -> web.Response:
            if self._paused:
                return web.Response(status=503, text="stopping", headers={"Retry-After": "1"})
            return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

        web_app = web.Application()
        web_app.router.add_post(self._config.path, handle)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._config.host, self._config.port)
        try:
            await site.start()
        except OSError as exc:
            where = f"{self._config.host}:{self._config.port}"
            raise AdapterError(f"Slack HTTP mode cannot listen on {where}: {exc.strerror}") from None
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}{self._config.path}"
        log.info("slack: HTTP mode, listening on %s", self.url)

    async def _start_socket(self, app: AsyncApp, client: AsyncWebClient) -> None:
        self._socket = AsyncSocketModeHandler(app, app_token=self._secrets.slack_app_token, web_client=client)
        try:
            opened = await client.apps_connections_open(app_token=self._secrets.slack_app_token)
        except API_ERRORS as exc:
            detail = reason(exc)
            raise AdapterError(f"Slack rejected the app token from {self._config.app_token_env}: {detail}") from None
        self._socket.client.wss_uri = str(opened["url"])
        try:
            await asyncio.wait_for(self._socket.connect_async(), _CONNECT_TIMEOUT_S)
        except TimeoutError:
            raise AdapterError("Slack Socket Mode: no websocket connection within 30 s") from None
        log.info("slack: Socket Mode connected")

    # --- listeners: run after Bolt acked; they only hand work to a task --------------

    async def _on_app_mention(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        self._accept_event(body, context, mention=True)

    async def _on_message(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        self._accept_event(body, context, mention=False)

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack()
        self._spawn(self._handle_command(command))

    def _accept_event(self, body: Mapping[str, Any], context: AsyncBoltContext, *, mention: bool) -> None:
        bot_user_id = context.bot_user_id or self._bot_user_id
        message = incoming(body, bot_user_id, mention=mention)
        if message is not None:
            event_id = str(body.get("event_id") or f"{message.channel}:{message.ts}")
            self._spawn(self._handle_message(event_id, message))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        if len(self._tasks) >= MAX_PENDING:
            work.close()
            log.warning("slack: %d handlings in flight; dropping a request", MAX_PENDING)
            return
        task = asyncio.create_task(self._guard(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guard(work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except API_ERRORS as exc:
            log.error("slack: a Web API call failed while replying (%s)", reason(exc))
        except Exception:
            log.exception("slack: handling a request failed")

    # --- the work -------------------------------------------------------------------

    async def _handle_message(self, event_id: str, message: Incoming) -> None:
        assert self._client is not None and self._people is not None
        key = f"slack:{event_id}"
        if not await self._claim(key):
            log.info("slack: event %s already handled; ignoring the redelivery", event_id)
            return
        try:
            await self._answer(message)
        except asyncio.CancelledError:
            await self._inbox.release(key)  # stopping: answered after the restart
            raise
        await self._inbox.done(key)

    async def _answer(self, message: Incoming) -> None:
        assert self._client is not None and self._people is not None
        author = await self._people.author(message.user)
        if author.is_bot:
            return
        event = Event(
            where=message.where,
            author=author,
            text=message.text,
            message_id=message.ts,
            addressed=message.addressed,
            is_dm=message.is_dm,
        )
        outbox = ThreadOutbox(
            self._client,
            channel=message.channel,
            thread_ts=message.reply_thread,
            user=message.user,
            placeholder=messages.SLACK_THINKING if self._config.placeholder else "",
        )
        try:
            await self._core.on_message(event, outbox)
        finally:
            await outbox.close()

    async def _claim(self, key: str) -> bool:
        try:
            return await self._inbox.claim(key, "slack", {}) is not Claim.DUPLICATE
        except Exception:  # answering twice beats never answering
            log.exception("slack: the inbox failed; handling %s anyway", key)
            return True

    async def _handle_command(self, command: Mapping[str, Any]) -> None:
        assert self._client is not None and self._people is not None
        user = str(command.get("user_id") or "")
        author = await self._people.author(user)
        where = command_ref(command)
        outbox = CommandOutbox(
            self._client,
            response_url=str(command.get("response_url") or ""),
            channel=where.channel,
            user=user,
        )
        request = Command(
            where=where,
            author=author,
            text=str(command.get("text") or "").strip(),
            message_id=str(command.get("trigger_id") or ""),
        )
        await self._core.on_command(request, outbox)
