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
the message-content intent, messages that don't address the bot arrive blank; a rate
limit is a 429 with `retry_after` in a JSON body and a `Via` header (without `Via`,
discord.py takes a 429 for a Cloudflare ban); application commands are bulk-overwritten
per scope (global, or one guild): commands missing from a PUT are deleted.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .discord_gateway import Gateway
from .discord_payloads import (
    Person,
    World,
    channel_payload,
    interaction_payload,
    message_payload,
    user_payload,
)

__all__ = ["GLOBAL", "FakeDiscord", "RestCall"]

Json = dict[str, Any]
EPHEMERAL = 1 << 6
LOADING = 1 << 7
GLOBAL = "global"  # the scope key of global application commands in `FakeDiscord.commands`


@dataclass(frozen=True)
class RestCall:
    method: str
    path: str  # after /api/v10, e.g. "/channels/300/messages"
    query: dict[str, str]
    body: Any  # parsed JSON, or None
    at: float = 0.0  # time.monotonic() when it arrived


@dataclass
class _RateLimit:
    method: str
    pattern: re.Pattern[str]
    retry_after: float
    until: float  # a window: every matching call before this gets 429 with the time left
    times: int | None  # or: the next `times` matching calls get 429 with `retry_after`


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
        self._limits: list[_RateLimit] = []
        self.commands: dict[str, list[Json]] = {}  # registered application commands by scope (GLOBAL or guild id)
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
        role_mentions: tuple[int, ...] = (),
        reply_to: int | None = None,
        dispatch: bool = True,
    ) -> Json:
        """Dispatch MESSAGE_CREATE as if `author` posted `content`; returns the payload.
        With `dispatch=False` the message exists (REST serves it) but the gateway never told the bot."""
        ref = self.messages[reply_to] if reply_to is not None else None
        data = message_payload(
            self.world,
            self.next_id(),
            channel_id,
            author,
            content,
            mentions=mentions,
            role_mentions=role_mentions,
            reply_to=ref,
        )
        self.messages[int(data["id"])] = data
        if dispatch:
            await self.gateway.dispatch("MESSAGE_CREATE", data)
        return data

    def post_as_bot(self, channel_id: int, content: str, *, reply_to: int | None = None) -> Json:
        """A message of the bot's as an earlier run of it posted it (no gateway event)."""
        ref = self.messages[reply_to] if reply_to is not None else None
        data = message_payload(self.world, self.next_id(), channel_id, self.world.bot, content, reply_to=ref)
        self.messages[int(data["id"])] = data
        return data

    async def push_edit(self, message_id: int, content: str) -> Json:
        """Someone edited message `message_id`: MESSAGE_UPDATE with the whole message, as Discord sends it."""
        data = {**self.messages[message_id], "content": content, "edited_timestamp": "2026-11-23T12:00:00+00:00"}
        self.messages[message_id] = data
        await self.gateway.dispatch("MESSAGE_UPDATE", data)
        return data

    async def push_delete(self, *message_ids: int) -> None:
        """Someone deleted these messages (all in one channel): MESSAGE_DELETE, or MESSAGE_DELETE_BULK for several."""
        gone = [self.messages.pop(i) for i in message_ids]
        where = {
            "channel_id": gone[0]["channel_id"],
            **({"guild_id": gone[0]["guild_id"]} if "guild_id" in gone[0] else {}),
        }
        if len(gone) == 1:
            await self.gateway.dispatch("MESSAGE_DELETE", {"id": gone[0]["id"], **where})
        else:
            await self.gateway.dispatch("MESSAGE_DELETE_BULK", {"ids": [m["id"] for m in gone], **where})

    async def push_interaction(self, channel_id: int, user: Person, data: Json, *, kind: int = 2) -> Json:
        """Dispatch any INTERACTION_CREATE (`data` as Discord sends it; kind 2 = command, 3 = component)."""
        payload = interaction_payload(
            self.world, self.next_id(), f"tok{self.next_id()}", channel_id, user, data, kind=kind
        )
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def push_command(
        self,
        channel_id: int,
        user: Person,
        sub: str,
        options: Json | None = None,
        *,
        focused: str | None = None,
        name: str = "gpt2",
        registered_in: int | None = None,
    ) -> Json:
        """Dispatch a `/name sub option:value ...` INTERACTION_CREATE (autocomplete if `focused`).
        `registered_in`: the guild whose copy of the command was used (None: the global one)."""
        opts = [
            {"type": 3, "name": k, "value": v, **({"focused": True} if k == focused else {})}
            for k, v in (options or {}).items()
        ]
        data: Json = {"id": "5000", "name": name, "type": 1, "options": [{"type": 1, "name": sub, "options": opts}]}
        if registered_in is not None:
            data["guild_id"] = str(registered_in)
        return await self.push_interaction(channel_id, user, data, kind=4 if focused else 2)

    def fail_next(self, method: str, path_pattern: str, *, status: int = 403, code: int = 50013) -> None:
        """Make the next matching REST call fail like Discord does (default: Missing Permissions)."""
        self._failures.append((method, re.compile(path_pattern), status, code))

    def rate_limit(self, method: str, path_pattern: str, retry_after: float, *, times: int | None = None) -> None:
        """Answer matching calls 429: the next `times` of them, each with `retry_after`; or (times=None)
        every one for the next `retry_after` seconds, with the time left, as Discord's buckets do."""
        until = time.monotonic() + retry_after
        self._limits.append(_RateLimit(method, re.compile(path_pattern), retry_after, until, times))

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
        call = RestCall(request.method, path, dict(request.query), body, time.monotonic())
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
            limited = self._limited(call)
            if limited is not None:
                return limited
            return await self._answer(call)
        finally:
            await self._notify()

    def _limited(self, call: RestCall) -> web.Response | None:
        for limit in self._limits:
            if limit.method != call.method or not limit.pattern.fullmatch(call.path):
                continue
            if limit.times is not None and limit.times > 0:
                limit.times -= 1
                retry_after = limit.retry_after
            elif limit.times is None and call.at < limit.until:
                retry_after = limit.until - call.at
            else:
                continue
            body = {"message": "You are being rate limited.", "retry_after": round(retry_after, 3), "global": False}
            headers = {"Via": "1.1 google", "Retry-After": str(max(1, round(retry_after)))}
            return _json(body, 429, headers)
        return None

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
        if m := re.fullmatch(r"GET /channels/(\d+)", route):
            return self._get_channel(int(m[1]))
        if m := re.fullmatch(r"GET /channels/(\d+)/messages/(\d+)", route):
            data = self.messages.get(int(m[2]))
            if data is None or data["channel_id"] != m[1]:
                return _json({"message": "Unknown Message", "code": 10008}, 404)
            return _json(data)
        if m := re.fullmatch(r"GET /channels/(\d+)/messages", route):
            return _json(self._history(m[1], call.query))
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
        if m := re.fullmatch(r"(GET|PUT) /applications/\d+(?:/guilds/(\d+))?/commands", route):
            scope = m[2] or GLOBAL
            if m[1] == "PUT":  # bulk overwrite: what is not in the list is deleted
                self.commands[scope] = [self._registered(c, m[2]) for c in call.body]
            return _json(self.commands.get(scope, []))
        if m := re.fullmatch(r"DELETE /applications/\d+(?:/guilds/(\d+))?/commands/(\d+)", route):
            scope = m[1] or GLOBAL
            before = self.commands.get(scope, [])
            self.commands[scope] = [c for c in before if c["id"] != m[2]]
            if len(self.commands[scope]) == len(before):
                return _json({"message": "Unknown application command", "code": 10063}, 404)
            return web.Response(status=204)
        return _json({"message": "404: Not Found", "code": 0}, 404)

    def register(self, command: Json, guild_id: int | None = None) -> Json:
        """A command registered earlier (e.g. by an older configuration), as Discord stores it."""
        scope = str(guild_id) if guild_id is not None else GLOBAL
        registered = self._registered(command, scope if guild_id is not None else None)
        self.commands.setdefault(scope, []).append(registered)
        return registered

    def _registered(self, command: Json, guild_id: str | None) -> Json:
        data = {
            **command,
            "id": str(self.next_id()),
            "application_id": str(self.world.bot.id),
            "version": "1",
            "type": command.get("type", 1),
        }
        if guild_id is not None:
            data["guild_id"] = guild_id
        return data

    def _get_channel(self, channel_id: int) -> web.Response:
        world = self.world
        if channel_id not in world.guild_channel_ids() | {world.dm}:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        return _json(channel_payload(world, channel_id))

    def _history(self, channel_id: str, query: dict[str, str]) -> list[Json]:
        """GET /channels/{id}/messages: newest first, as Discord answers (`after`, `before`, `limit`)."""
        after, before = int(query.get("after", 0)), int(query.get("before", 1 << 62))
        found = [m for i, m in self.messages.items() if m["channel_id"] == channel_id and after < i < before]
        found.sort(key=lambda m: int(m["id"]), reverse=True)
        return found[: int(query.get("limit", 50))]

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


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py parses JSON only when Content-Type is exactly application/json (no charset).
    body = json.dumps(data).encode()
    return web.Response(body=body, status=status, headers={"Content-Type": "application/json", **(headers or {})})
