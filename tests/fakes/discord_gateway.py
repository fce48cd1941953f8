"""The fake gateway: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, then dispatches.

Frames go out as plain-text JSON (discord.py only decompresses binary frames, so the
`compress=zlib-stream` the client asks for can be ignored). Sessions are sharded like
Discord's: a guild's events go to shard `(guild_id >> 22) % shard_count`, DMs to shard 0.
Failures are scripted with `send_raw` (any text frame, e.g. one that is not JSON, to every
session) and `poison` (a frame sent to every new session right after its GUILD_CREATE).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from .discord_payloads import World, guild_payload, user_payload

__all__ = ["MESSAGE_CONTENT", "PRIVILEGED", "Gateway"]

Json = dict[str, Any]
MESSAGE_CONTENT = 1 << 15
PRIVILEGED = (1 << 1) | (1 << 8) | MESSAGE_CONTENT  # members, presences, message content
HEARTBEAT_MS = 41_250


@dataclass
class _Session:
    ws: web.WebSocketResponse
    shard: int
    shard_count: int
    intents: int
    seq: int = 0

    async def send(self, op: int, data: Any, event: str | None = None) -> None:
        frame: Json = {"op": op, "d": data, "s": None, "t": event}
        if op == 0:
            self.seq += 1
            frame["s"] = self.seq
        await self.ws.send_str(json.dumps(frame))

    def owns(self, guild_id: int | None) -> bool:
        return (0 if guild_id is None else (guild_id >> 22) % self.shard_count) == self.shard


class Gateway:
    def __init__(
        self, world: World, *, token: str, privileged_intents: bool, on_event: Callable[[], Awaitable[None]]
    ) -> None:
        self.world = world
        self.token = token
        self.privileged_intents = privileged_intents  # the Developer Portal toggles
        self.url = ""
        self.paths: list[str] = []  # request path of every websocket connect
        self.identifies: list[Json] = []  # every IDENTIFY payload received
        self.sessions: list[_Session] = []
        self.poison = ""  # when set, every new session gets this raw frame after GUILD_CREATE
        self._on_event = on_event

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.paths.append(request.path_qs)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_MS}, "s": None, "t": None}))
        session: _Session | None = None
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    break
                frame = json.loads(msg.data)
                op, data = frame.get("op"), frame.get("d")
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
                elif op == 2:
                    session = await self._identify(ws, data)
                    if session is None:
                        break
                elif op == 6:  # RESUME is not supported: make the client identify afresh
                    await ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
        finally:
            if session in self.sessions:
                self.sessions.remove(session)
            await self._on_event()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: Json) -> _Session | None:
        self.identifies.append(data)
        await self._on_event()
        intents = int(data.get("intents", 0))
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        if intents & PRIVILEGED and not self.privileged_intents:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        shard, count = data.get("shard") or [0, 1]
        session = _Session(ws, shard, count, intents)
        world = self.world
        owns_guild = session.owns(world.guild_id)
        await session.send(
            0,
            {
                "v": 10,
                "user": user_payload(world.bot),
                "user_settings": {},
                "session_type": "normal",
                "session_id": f"session-{len(self.identifies)}",
                "resume_gateway_url": self.url,
                "relationships": [],
                "private_channels": [],
                "presences": [],
                "guilds": [{"id": str(world.guild_id), "unavailable": True}] if owns_guild else [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "shard": [shard, count],
                "application": {"id": str(world.bot.id), "flags": 1 << 19},
            },
            "READY",
        )
        if owns_guild:
            await session.send(0, guild_payload(world), "GUILD_CREATE")
        self.sessions.append(session)
        if self.poison:
            await ws.send_str(self.poison)
        await self._on_event()
        return session

    async def dispatch(self, event: str, data: Json) -> None:
        """Send a DISPATCH to the session that owns its guild (DMs: shard 0)."""
        guild_id = int(data["guild_id"]) if "guild_id" in data else None
        for session in list(self.sessions):
            if session.owns(guild_id) and not session.ws.closed:
                await session.send(0, self._visible(session, event, data), event)

    async def send_raw(self, text: str) -> None:
        """Send `text` as it is, as one text frame, to every session."""
        for session in list(self.sessions):
            if not session.ws.closed:
                await session.ws.send_str(text)

    def _visible(self, session: _Session, event: str, data: Json) -> Json:
        """Without the message-content intent, Discord blanks messages not meant for the bot."""
        if event != "MESSAGE_CREATE" or session.intents & MESSAGE_CONTENT:
            return data
        bot_id = str(self.world.bot.id)
        if (
            "guild_id" not in data
            or data["author"]["id"] == bot_id
            or any(m["id"] == bot_id for m in data.get("mentions", []))
        ):
            return data
        return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

    async def close_all(self, code: int = 1000) -> None:
        """Close every session (4004, 4013, 4014 ... are fatal to discord.py; 1000 makes it reconnect)."""
        for session in list(self.sessions):
            await session.ws.close(code=code)
        self.sessions.clear()
