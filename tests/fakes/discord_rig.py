"""The Discord adapter running for real against `FakeDiscord` on 127.0.0.1.

`discord_rig(core)` starts the fake REST API + gateway, then `DiscordAdapter` with its
API base URL and gateway URL pointed at it (and an in-memory inbox unless one is given),
so the unmodified discord.py client logs in, identifies and receives READY/GUILD_CREATE
over a real websocket. `ScriptedCore` stands in for the core where a test is about the
adapter alone: it records what it was given and answers addressed messages with scripted
text (or raises, or holds until released).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from adapters.discord import DiscordAdapter
from bot.config import DiscordSection
from bot.events import ChannelRef, Command, Core, Event, Outbox, Reply, ReplyKind
from bot.inbox import Inbox
from storage.memory import MemoryInbox

from .discord_payloads import World
from .discord_server import FakeDiscord, RestCall

__all__ = ["TOKEN", "Rig", "ScriptedCore", "discord_rig", "eventually"]

TOKEN = "fake-discord-bot-token"


async def eventually(predicate: Callable[[], bool | Awaitable[bool]], within_s: float = 5.0) -> None:
    """Wait until `predicate()` holds (or its awaitable comes true), for what changes without a
    REST call or gateway event (the inbox, the store); checked every 10 ms, TimeoutError after `within_s`."""
    async with asyncio.timeout(within_s):
        while True:
            result = predicate()
            if await result if inspect.isawaitable(result) else result:
                return
            await asyncio.sleep(0.01)


@dataclass
class ScriptedCore:
    """Records events and commands; answers addressed messages with `answer(event)`."""

    answer: Callable[[Event], str] = lambda event: f"echo: {event.text}"
    command_answer: Callable[[Command], Reply] = lambda cmd: Reply(f"ran {cmd.text}", ReplyKind.COMMAND, True)
    hold: asyncio.Event | None = None  # when given, replies wait until it is set
    wants: Callable[[Event], bool] = lambda event: True  # what `may_answer` says
    events: list[Event] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    changes: list[tuple[str, ChannelRef, str, str]] = field(default_factory=list)  # edits and deletions
    _seen: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def may_answer(self, event: Event) -> bool:
        return self.wants(event)

    async def on_message(self, event: Event, outbox: Outbox) -> None:
        await self._record(self.events, event)
        if not event.addressed:
            return
        async with outbox.working():
            if self.hold is not None:
                await self.hold.wait()
            text = self.answer(event)  # may raise: the adapter must survive it
        await outbox.send(Reply(text, reply_to=event.message_id))

    async def on_command(self, command: Command, outbox: Outbox) -> None:
        await self._record(self.commands, command)
        await outbox.send(self.command_answer(command))

    async def on_message_edited(self, where: ChannelRef, message_id: str, text: str) -> None:
        await self._record(self.changes, ("edited", where, message_id, text))

    async def on_message_deleted(self, where: ChannelRef, message_id: str) -> None:
        await self._record(self.changes, ("deleted", where, message_id, ""))

    async def _record(self, into: list[Any], item: Any) -> None:
        async with self._seen:
            into.append(item)
            self._seen.notify_all()

    async def wait_for(self, events: int = 0, commands: int = 0, changes: int = 0, within_s: float = 5.0) -> None:
        """Until at least this many events, commands, and edits or deletions arrived."""
        async with asyncio.timeout(within_s), self._seen:
            await self._seen.wait_for(
                lambda: len(self.events) >= events and len(self.commands) >= commands and len(self.changes) >= changes
            )


@dataclass
class Rig:
    fake: FakeDiscord
    adapter: DiscordAdapter
    world: World
    inbox: Inbox

    async def replies(self, channel_id: int, count: int = 1) -> list[RestCall]:
        """The first `count` messages the bot posted in `channel_id`, once they exist."""
        return await self.fake.wait_for("POST", f"/channels/{channel_id}/messages", count=count)

    def posted(self) -> list[RestCall]:
        return self.fake.find("POST", r"/channels/\d+/messages")


@asynccontextmanager
async def discord_rig(
    core: Core,
    *,
    fake: FakeDiscord | None = None,
    token: str = TOKEN,
    inbox: Inbox | None = None,
    recover_within: timedelta = timedelta(minutes=15),
    **config: Any,
) -> AsyncIterator[Rig]:
    """FakeDiscord + a started DiscordAdapter pointed at it; both stopped afterwards."""
    server = fake or FakeDiscord()
    async with server:
        options: dict[str, Any] = {
            "api_base_url": server.api_base,
            "gateway_url": server.gateway_url,
            "guild_ready_timeout": 0.05,
            **config,
        }
        section = dataclasses.replace(DiscordSection(), **options)
        inbox = inbox or MemoryInbox()
        adapter = DiscordAdapter(section, token, core, inbox, recover_within=recover_within)
        await adapter.start()
        try:
            yield Rig(server, adapter, server.world, inbox)
        finally:
            await adapter.stop()
