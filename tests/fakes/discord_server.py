"""A small fake Discord: REST API + gateway websocket on 127.0.0.1, for the real discord.py client.

Point `discord.http.Route.BASE` at `api_base` and `DiscordWebSocket.DEFAULT_GATEWAY` at
`gateway_url` (the Discord adapter does this from `discord.api_base_url` /
`discord.gateway_url`), and the unmodified client logs in, identifies, receives READY
and GUILD_CREATE for `World`, and handles what tests push (`push_message`,
`push_interaction`). Every REST call is recorded; tests await them with `wait_for`.
Behaviour copied from real Discord because clients depend on it: JSON replies carry
exactly `Content-Type: application/json`; interaction callbacks answer
`?with_response=1` with `{interaction, resource}`; the bot's own posts are echoed back
as MESSAGE_CREATE; a missing privileged intent closes the socket with 4014; without
the message-content intent, messages that don't address the bot arrive blank.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .discord_gateway import Gateway
from .discord_payloads import Person, World, interaction_payload, message_payload, user_payload

__all__ = ["FakeDiscord", "RestCall"]

Json = dict[str, Any]
EPHEMERAL = 1 << 6
LOADING = 1 << 7


@dataclass(frozen=True)
class RestCall:
    method: str
    path: str  # after /api/v10, e.g. "/channels/300/messages"
    query: dict[str, str]
    body: Any  # parsed JSON, or None


class FakeDiscord:
    def __init__(
        self, world: World | None = None, *, privileged_intents: bool = True, token: str = "fake-discord-bot-token"
    ) -> None:
        self.world = world or World()
        self.token = token  # REST calls must carry `Authorization: Bot <token>`
        self.calls: list[RestCall] = []
        self.messages: dict[int, Json] = {}  # every message by id, pushed or posted
        self._ids = itertools.count(10_000)
        self._changed = asyncio.Condition()
        self._failures: list[tuple[str, re.Pattern[str], int, int]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.gateway = Gateway(self.world, token=token, privileged_intents=privileged_intents, on_event=self._notify)
        self.bot_gateway_path = "/gateway"  # what GET /gateway/bot advertises

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway{suffix:[-a-z]*}", self.gateway.handle)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.gateway.url = self.gateway_url

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- what tests push ---------------------------------------------------------------------
    def next_id(self) -> int:
        return next(self._ids)

    async def push_message(
        self,
        channel_id: int,
        author: Person,
        content: str,
        *,
        mentions: tuple[Person, ...] = (),
        reply_to: int | None = None,
    ) -> Json:
        """Dispatch MESSAGE_CREATE as if `author` posted `content`; returns the payload."""
        ref = self.messages[reply_to] if reply_to is not None else None
        data = message_payload(self.world, self.next_id(), channel_id, author, content, mentions=mentions, reply_to=ref)
        self.messages[int(data["id"])] = data
        await self.gateway.dispatch("MESSAGE_CREATE", data)
        return data

    async def push_command(
        self,
        channel_id: int,
        user: Person,
        sub: str,
        options: Json | None = None,
        *,
        focused: str | None = None,
        name: str = "gpt2",
    ) -> Json:
        """Dispatch a `/name sub option:value ...` INTERACTION_CREATE (autocomplete if `focused`)."""
        opts = [
            {"type": 3, "name": k, "value": v, **({"focused": True} if k == focused else {})}
            for k, v in (options or {}).items()
        ]
        data = {"id": "5000", "name": name, "type": 1, "options": [{"type": 1, "name": sub, "options": opts}]}
        payload = interaction_payload(
            self.world, self.next_id(), f"tok{self.next_id()}", channel_id, user, data, kind=4 if focused else 2
        )
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return payload

    def fail_next(self, method: str, path_pattern: str, *, status: int = 403, code: int = 50013) -> None:
        """Make the next matching REST call fail like Discord does (default: Missing Permissions)."""
        self._failures.append((method, re.compile(path_pattern), status, code))

    # -- what tests inspect ------------------------------------------------------------------
    def find(self, method: str, path_pattern: str) -> list[RestCall]:
        pattern = re.compile(path_pattern)
        return [c for c in self.calls if c.method == method and pattern.fullmatch(c.path)]

    async def wait_for(
        self, method: str, path_pattern: str, *, count: int = 1, within_s: float = 5.0
    ) -> list[RestCall]:
        """The matching calls, once there are at least `count` of them (TimeoutError otherwise)."""
        async with asyncio.timeout(within_s), self._changed:
            await self._changed.wait_for(lambda: len(self.find(method, path_pattern)) >= count)
        return self.find(method, path_pattern)

    async def wait_until(self, predicate: Callable[[], bool], *, within_s: float = 5.0) -> None:
        """Wait until `predicate()` holds; it is re-checked after every REST call and gateway event."""
        async with asyncio.timeout(within_s), self._changed:
            await self._changed.wait_for(predicate)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- REST --------------------------------------------------------------------------------
    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body = await request.json() if request.can_read_body else None
        call = RestCall(request.method, path, dict(request.query), body)
        self.calls.append(call)
        try:
            if not path.startswith(("/interactions/", "/webhooks/")) and (
                request.headers.get("Authorization") != f"Bot {self.token}"
            ):
                return _json({"message": "401: Unauthorized", "code": 0}, 401)
            for i, (method, pattern, status, code) in enumerate(self._failures):
                if method == call.method and pattern.fullmatch(path):
                    del self._failures[i]
                    return _json({"message": "Missing Permissions", "code": code}, status)
            return await self._answer(call)
        finally:
            await self._notify()

    async def _answer(self, call: RestCall) -> web.StreamResponse:
        route = f"{call.method} {call.path}"
        world = self.world
        if route == "GET /users/@me":
            return _json(user_payload(world.bot))
        if route == "GET /oauth2/applications/@me":
            return _json(_app_info(world))
        if route == "GET /gateway/bot":
            url = f"ws://127.0.0.1:{self.port}{self.bot_gateway_path}"
            return _json(
                {
                    "url": url,
                    "shards": 1,
                    "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
                }
            )
        if m := re.fullmatch(r"POST /channels/(\d+)/messages", route):
            return _json(await self._post_message(int(m[1]), call.body))
        if m := re.fullmatch(r"(PATCH|DELETE) /channels/(\d+)/messages/(\d+)", route):
            return await self._change_message(m[1], int(m[2]), int(m[3]), call.body)
        if re.fullmatch(r"POST /channels/\d+/typing", route):
            return web.Response(status=204)
        if m := re.fullmatch(r"POST /interactions/(\d+)/[^/]+/callback", route):
            return _json(self._callback(int(m[1]), call.body))
        if re.fullmatch(r"POST /webhooks/\d+/[^/]+", route):
            if call.query.get("wait") in (None, "0", "false"):
                return web.Response(status=204)
            return _json(self._webhook_message(call.body))
        if re.fullmatch(r"PATCH /webhooks/\d+/[^/]+/messages/[^/]+", route):
            return _json(self._webhook_message(call.body))
        if re.fullmatch(r"PUT /applications/\d+(/guilds/\d+)?/commands", route):
            return _json(
                [
                    {
                        **c,
                        "id": str(self.next_id()),
                        "application_id": str(world.bot.id),
                        "version": "1",
                        "type": c.get("type", 1),
                    }
                    for c in call.body
                ]
            )
        return _json({"message": "404: Not Found", "code": 0}, 404)

    async def _post_message(self, channel_id: int, body: Json) -> Json:
        data = message_payload(self.world, self.next_id(), channel_id, self.world.bot, body.get("content") or "")
        ref = body.get("message_reference")
        if ref and int(ref["message_id"]) in self.messages:
            data = message_payload(
                self.world,
                int(data["id"]),
                channel_id,
                self.world.bot,
                data["content"],
                reply_to=self.messages[int(ref["message_id"])],
            )
        self.messages[int(data["id"])] = data
        await self.gateway.dispatch("MESSAGE_CREATE", data)  # real Discord echoes our own posts
        return data

    async def _change_message(
        self, method: str, channel_id: int, message_id: int, body: Json | None
    ) -> web.StreamResponse:
        """Edit (PATCH) or delete one of the bot's messages, echoing the gateway event as Discord does."""
        data = self.messages.get(message_id)
        if data is None or int(data["channel_id"]) != channel_id:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        if method == "DELETE":
            del self.messages[message_id]
            await self.gateway.dispatch(
                "MESSAGE_DELETE",
                {"id": str(message_id), "channel_id": str(channel_id), "guild_id": data.get("guild_id")},
            )
            return web.Response(status=204)
        data = {
            **data,
            "content": (body or {}).get("content", data["content"]),
            "edited_timestamp": "2026-11-23T12:00:00+00:00",
        }
        self.messages[message_id] = data
        await self.gateway.dispatch("MESSAGE_UPDATE", data)
        return _json(data)

    def _webhook_message(self, body: Json) -> Json:
        data = message_payload(
            self.world,
            self.next_id(),
            self.world.general,
            self.world.bot,
            body.get("content") or "",
            flags=body.get("flags", 0),
        )
        return {**data, "webhook_id": str(self.world.bot.id)}

    def _callback(self, interaction_id: int, body: Json) -> Json:
        kind = body["type"]
        flags = (body.get("data") or {}).get("flags", 0)
        result: Json = {
            "interaction": {
                "id": str(interaction_id),
                "type": 2,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(flags & EPHEMERAL),
            },
            "resource": {"type": kind},
        }
        if kind in (4, 5):
            message = self._webhook_message(
                {"content": (body.get("data") or {}).get("content", ""), "flags": flags | (LOADING if kind == 5 else 0)}
            )
            result["interaction"]["response_message_id"] = message["id"]
            result["resource"]["message"] = message
        return result


def _app_info(world: World) -> Json:
    return {
        "id": str(world.bot.id),
        "name": world.bot.name,
        "description": "",
        "icon": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": user_payload(world.alice),
        "team": None,
        "verify_key": "0" * 64,
        "flags": 1 << 19,
        "summary": "",
        "bot": user_payload(world.bot),
        "interactions_endpoint_url": None,
    }


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py parses JSON only when Content-Type is exactly application/json (no charset).
    body = json.dumps(data).encode()
    return web.Response(body=body, status=status, headers={"Content-Type": "application/json"})
