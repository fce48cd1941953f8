"""HTTP mode's server: Slack's requests checked before Bolt sees them, and answered without a traceback.

Bolt parses a request's body before it verifies the signature (so an unsigned body that
is not JSON ends in a 500 and a traceback) and logs forged requests' bodies at INFO (they
hold user text). So each request passes here first, in this order:

* 503 while the bot is stopping, so Slack retries it (at another instance, or after the restart);
* 413 for a body over `MAX_BODY` (aiohttp refuses it while reading);
* 401 unless the `v0` signature over the raw bytes is valid and its timestamp at most five
  minutes off — nothing is parsed before; refusals are counted and logged at most once a
  minute, never with the body. (Slack's recipe, written out: slack_sdk's `SignatureVerifier`
  decodes the body as UTF-8 first and raises on any other bytes, and `int()`s the
  timestamp header as it comes, so a forged request could make it raise.);
* 400 for a signed body that is not UTF-8, not a JSON object or form Bolt can read, or an
  `event_callback` whose `event` is not an object with a type;

and only then Bolt dispatches it.

With installs in many workspaces (`slack_installs`), GET `slack.install_path` and
`slack.redirect_path` are Bolt's OAuth flow: a person's browser, not Slack, asks for them,
so they carry no signature (Bolt checks the install's state instead).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body

from bot.errors import AdapterError

__all__ = ["MAX_BODY", "SlackHttp"]

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Slack's events and commands are a few KB; a message holds at most 40,000 characters
REFUSALS_LOGGED_EVERY_S = 60.0
MAX_CLOCK_SKEW_S = 300  # Slack's advice: refuse requests signed more than five minutes ago


class SlackHttp:
    """The aiohttp server in front of the Bolt app `app`; `paused()` says the bot is stopping."""

    def __init__(self, app: AsyncApp, signing_secret: str, *, paused: Callable[[], bool]) -> None:
        self._app = app
        self._secret = signing_secret.encode()
        self._paused = paused
        self._runner: web.AppRunner | None = None
        self._refused = 0
        self._refusals_noted_at = -REFUSALS_LOGGED_EVERY_S

    async def start(self, host: str, port: int, path: str) -> str:
        """Listen on `host:port`; the URL Slack should send requests to."""
        web_app = web.Application(client_max_size=MAX_BODY)
        web_app.router.add_post(path, self._handle)
        flow = self._app.oauth_flow
        if flow is not None:
            web_app.router.add_get(flow.install_path, self._install)
            web_app.router.add_get(flow.redirect_uri_path, self._install)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise AdapterError(f"Slack HTTP mode cannot listen on {host}:{port}: {exc.strerror}") from None
        bound_host, bound_port = self._runner.addresses[0][:2]
        return f"http://{bound_host}:{bound_port}{path}"

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        if self._paused():
            return web.Response(status=503, text="stopping", headers={"Retry-After": "1"})
        raw = await request.read()  # over MAX_BODY: aiohttp answers 413
        if not self._signed(raw, request.headers):
            self._note_refusal()
            return web.json_response({"error": "invalid request"}, status=401)
        content_type = request.headers.get("Content-Type")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _bad_request("the body is not UTF-8")
        problem = _problem(body, content_type)
        if problem:
            return _bad_request(problem)
        try:
            bolt_request = AsyncBoltRequest(body=body, query=request.query_string, headers=dict(request.headers))
        except Exception as exc:  # Bolt reads fields of the payload it does not check: odd shapes raise
            return _bad_request(f"Bolt cannot read it ({type(exc).__name__})")
        return await to_aiohttp_response(await self._app.async_dispatch(bolt_request))

    async def _install(self, request: web.Request) -> web.Response:
        """The "Add to Slack" page, or the way back from Slack with the install's code."""
        flow = self._app.oauth_flow
        assert flow is not None
        if self._paused():
            return web.Response(status=503, text="stopping", headers={"Retry-After": "1"})
        bolt_request = AsyncBoltRequest(body="", query=request.query_string, headers=dict(request.headers))
        if request.path == flow.install_path:
            return await to_aiohttp_response(await flow.handle_installation(bolt_request))
        return await to_aiohttp_response(await flow.handle_callback(bolt_request))

    def _signed(self, raw: bytes, headers: Mapping[str, str]) -> bool:
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        signature = headers.get("X-Slack-Signature", "")
        if not (timestamp.isascii() and timestamp.isdigit() and signature.isascii()):
            return False
        if abs(time.time() - int(timestamp)) > MAX_CLOCK_SKEW_S:
            return False
        digest = hmac.new(self._secret, b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(f"v0={digest}", signature)

    def _note_refusal(self) -> None:
        self._refused += 1
        now = time.monotonic()
        if now - self._refusals_noted_at >= REFUSALS_LOGGED_EVERY_S:
            log.warning(
                "slack: refused %d request(s) with a missing, wrong or stale signature "
                "(if Slack sent them: is the signing secret right?)",
                self._refused,
            )
            self._refused = 0
            self._refusals_noted_at = now


def _problem(body: str, content_type: str | None) -> str:
    """Why Bolt cannot take this signed body; "" when it can."""
    try:
        payload: Any = parse_body(body, content_type)  # Bolt's own reading of JSON and forms
    except (ValueError, RecursionError):
        return "the body is neither JSON nor a form Bolt can read"
    if not isinstance(payload, dict):
        return "the body is not a JSON object"
    if payload.get("type") == "event_callback":
        event = payload.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "an event_callback without an event object"
    return ""


def _bad_request(problem: str) -> web.Response:
    log.info("slack: answered 400 to a signed request: %s", problem)
    return web.json_response({"error": problem}, status=400)
