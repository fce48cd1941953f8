"""A local fake of Slack's Web API (and of `response_url`) that records every call.

Like Bolt's own mock server, but aiohttp on 127.0.0.1 with a free port: point
`slack.api_base_url` at `api.base_url`, let the bot run, then read or await `api.calls`.
It keeps the messages the bot posted, updated and deleted (`messages`, `thread`), so a
test can say what a person would see in each thread. `fail` scripts failures the way
Slack and the network produce them: an `ok: false` answer, a 429 with `Retry-After`, a
500 with a plain-text body, or a connection dropped without an answer.

Installs in many workspaces: `add_install` makes a code that `oauth.v2.access` trades (given
the app's client id and secret) for a workspace's bot token; `auth.test` answers for each
token with its own workspace, and every call records the token it came with.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

__all__ = ["ApiCall", "FakeSlackApi", "Install", "Posted"]


@dataclass(frozen=True)
class ApiCall:
    method: str  # "chat.postMessage", or "response_url" for posts to a response URL
    body: Mapping[str, Any]  # query, form and JSON fields merged
    token: str = ""  # the bearer token the caller sent


@dataclass
class Posted:
    """A message the bot posted, as it stands now."""

    ts: str
    channel: str
    thread_ts: str
    text: str
    blocks: list[Any] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    edits: int = 0
    deleted: bool = False

    @property
    def shown(self) -> str:
        """What Slack shows: the plain-text section when there is one, else the text."""
        for block in self.blocks:
            if isinstance(block, dict) and isinstance(block.get("text"), dict):
                return str(block["text"].get("text", ""))
        return self.text


@dataclass
class _Failure:
    error: str
    status: int
    times: int
    retry_after: int | None = None
    body: str = "json"  # "json" (ok: false), "text" (a plain-text error page) or "drop" (no answer at all)
    skip: int = 0  # calls answered normally before the failures start


@dataclass(frozen=True)
class Install:
    """A workspace that installs the app: what `oauth.v2.access` hands out for its code."""

    team: str
    token: str
    bot_user_id: str
    bot_id: str


@dataclass
class FakeSlackApi:
    team: str = "T1"
    bot_user_id: str = "UBOT"
    bot_id: str = "BBOT"
    socket_url: str = ""  # what apps.connections.open hands out
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[ApiCall] = field(default_factory=list)
    messages: dict[str, Posted] = field(default_factory=dict)  # by ts
    client_id: str = "111.222"  # the app's, for oauth.v2.access
    client_secret: str = "app-client-secret"
    installs: dict[str, Install] = field(default_factory=dict)  # by the code oauth.v2.access trades
    used_codes: set[str] = field(default_factory=set)
    port: int = 0
    _failures: dict[str, _Failure] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None

    # --- set-up -----------------------------------------------------------------------

    def add_user(self, user_id: str, name: str, *, admin: bool = False, owner: bool = False, bot: bool = False) -> None:
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.team,
            "name": name.lower(),
            "is_admin": admin,
            "is_owner": owner,
            "is_bot": bot,
            "profile": {"display_name": name, "real_name": name},
        }

    def add_install(self, code: str, install: Install) -> None:
        """`code` is what Slack hands the app's redirect URL when `install.team` installs it."""
        self.installs[code] = install

    def fail(
        self,
        method: str,
        error: str = "internal_error",
        *,
        status: int = 200,
        times: int = 1,
        retry_after: int | None = None,
        body: str = "json",
        skip: int = 0,
    ) -> None:
        """Make `times` calls of `method` ("*": any but auth.test), after the next `skip`, fail:
        answer `error` with HTTP `status` (and `Retry-After`), as plain text (`body="text"`),
        or drop the connection (`body="drop"`)."""
        assert body in ("json", "text", "drop")
        self._failures[method] = _Failure(error, status, times, retry_after, body, skip)

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 and `Retry-After`, as Slack does."""
        self.fail(method, "ratelimited", status=429, times=times, retry_after=retry_after)

    def heal(self) -> None:
        """Every method answers normally again."""
        self._failures.clear()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"http://127.0.0.1:{self.port}/respond/{name}"

    async def __aenter__(self) -> FakeSlackApi:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{name}", self._respond)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- reading what the bot did -------------------------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    def thread(self, channel: str, thread_ts: str) -> list[Posted]:
        """The bot's messages still standing in a thread (top level when `thread_ts` is "")."""
        return [
            m for m in self.messages.values() if m.channel == channel and m.thread_ts == thread_ts and not m.deleted
        ]

    def standing(self) -> list[Posted]:
        return [m for m in self.messages.values() if not m.deleted]

    async def wait_for(self, method: str, count: int = 1, within_s: float = 5.0) -> list[ApiCall]:
        """Wait until `method` was called at least `count` times; return those calls."""
        async with asyncio.timeout(within_s):
            while len(self.calls_to(method)) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.calls_to(method)

    async def wait_until(self, done: Callable[[], bool], within_s: float = 5.0) -> None:
        """Wait until `done()` (asked again after every call the fake receives) is true."""
        async with asyncio.timeout(within_s):
            while not done():
                self._changed.clear()
                await self._changed.wait()

    async def settle(self, quiet_s: float = 0.2) -> None:
        """Wait until no call arrived for `quiet_s` (to show something did NOT happen)."""
        while True:
            seen = len(self.calls)
            await asyncio.sleep(quiet_s)
            if len(self.calls) == seen:
                return

    # --- handlers -----------------------------------------------------------------------

    def _record(self, method: str, body: Mapping[str, Any], token: str) -> None:
        self.calls.append(ApiCall(method, body, token))
        self._changed.set()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body.update(await request.json())
        elif request.can_read_body:
            body.update(await request.post())
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("Basic "):  # oauth.v2.access: the app's credentials, as slack_sdk sends them
            client_id, _, secret = base64.b64decode(authorization.removeprefix("Basic ")).decode().partition(":")
            body |= {"client_id": client_id, "client_secret": secret}
        bearer = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else ""
        token = bearer or str(body.get("token") or "")  # a call may carry its token as a field
        self._record(method, body, token)
        failure = self._failures.get(method) or (self._failures.get("*") if method != "auth.test" else None)
        if failure is not None and failure.skip > 0:
            failure.skip -= 1
        elif failure is not None and failure.times > 0:
            failure.times -= 1
            return await self._failed(request, failure)
        return web.json_response(self._answer(method, body, token))

    @staticmethod
    async def _failed(request: web.Request, failure: _Failure) -> web.Response:
        if failure.body == "drop":
            assert request.transport is not None
            request.transport.abort()  # the client sees the connection close without an answer
            return web.Response(status=500)
        headers = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
        if failure.body == "text":
            return web.Response(status=failure.status, text=f"{failure.error}\n", headers=headers)
        return web.json_response({"ok": False, "error": failure.error}, status=failure.status, headers=headers)

    def _answer(self, method: str, body: Mapping[str, Any], token: str = "") -> dict[str, Any]:
        installed = next((i for i in self.installs.values() if i.token == token), None)
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://fake.slack.test/",
                "team": "Fake",
                "user": "gpt2",
                "team_id": installed.team if installed else self.team,
                "user_id": installed.bot_user_id if installed else self.bot_user_id,
                "bot_id": installed.bot_id if installed else self.bot_id,
            }
        if method == "oauth.v2.access":
            return self._oauth(body)
        if method == "chat.update" and str(body.get("ts")) in self.messages:
            posted = self.messages[str(body.get("ts"))]
            if posted.deleted:
                return {"ok": False, "error": "message_not_found"}
            posted.text, posted.blocks = str(body.get("text") or ""), _blocks(body)
            posted.metadata = _metadata(body) or posted.metadata  # kept when the update has none
            posted.edits += 1
        if method == "chat.delete" and str(body.get("ts")) in self.messages:
            self.messages[str(body.get("ts"))].deleted = True
        if method in ("chat.postMessage", "chat.update"):
            ts = body.get("ts") or f"1700000000.{next(self._ts):06d}"
            if method == "chat.postMessage":
                thread = str(body.get("thread_ts") or "")
                channel = str(body.get("channel"))
                text = str(body.get("text") or "")
                self.messages[ts] = Posted(ts, channel, thread, text, _blocks(body), _metadata(body))
            return {
                "ok": True,
                "channel": body.get("channel"),
                "ts": ts,
                "message": {"text": body.get("text"), "user": self.bot_user_id, "ts": ts},
            }
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if method == "users.info":
            user = self.users.get(str(body.get("user")))
            return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}
        if method in ("conversations.replies", "conversations.history"):
            return {"ok": True, "messages": self._history(method, body), "has_more": False}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket_url}
        return {"ok": True}

    def _oauth(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """oauth.v2.access: the bot token of the workspace whose code this is (each code works once)."""
        if (body.get("client_id"), body.get("client_secret")) != (self.client_id, self.client_secret):
            return {"ok": False, "error": "invalid_client_id"}
        code = str(body.get("code"))
        install = self.installs.get(code)
        if install is None or code in self.used_codes:
            return {"ok": False, "error": "invalid_code"}
        self.used_codes.add(code)
        return {
            "ok": True,
            "app_id": "A1",
            "authed_user": {"id": "U_installer"},
            "scope": "app_mentions:read,chat:write",
            "token_type": "bot",
            "access_token": install.token,
            "bot_user_id": install.bot_user_id,
            "team": {"id": install.team, "name": f"Team {install.team}"},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _history(self, method: str, query: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The bot's messages in a thread (replies) or at a channel's top level after `oldest` (history)."""
        channel, with_metadata = str(query.get("channel")), str(query.get("include_all_metadata")) in ("1", "true")
        thread = str(query.get("ts")) if method == "conversations.replies" else ""
        oldest = float(query.get("oldest") or 0) if method == "conversations.history" else 0.0
        found = []
        for posted in self.thread(channel, thread):
            if float(posted.ts) > oldest:
                message: dict[str, Any] = {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id}
                message["ts"] = posted.ts
                message |= {"text": posted.text, "thread_ts": posted.thread_ts or None}
                if with_metadata and posted.metadata:
                    message["metadata"] = posted.metadata
                found.append(message)
        return found

    async def _respond(self, request: web.Request) -> web.Response:
        body = json.loads(await request.text())
        self._record("response_url", {**body, "name": request.match_info["name"]}, "")
        return web.Response(text="ok")


def _blocks(body: Mapping[str, Any]) -> list[Any]:
    blocks = body.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


def _metadata(body: Mapping[str, Any]) -> dict[str, Any] | None:
    metadata = body.get("metadata")
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return metadata if isinstance(metadata, dict) else None
