"""The console adapter: each input line is a message, `/gpt2 ...` lines are commands.

Works interactively and with piped stdin: one reply per non-empty input line, in order,
and `wait()` returns at end of input after the last reply. The console user is a moderator.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TextIO

from bot.events import Author, ChannelRef, Command, Core, Event, Reply, ReplyKind

__all__ = ["ConsoleAdapter", "ConsoleOutbox"]


class ConsoleOutbox:
    def __init__(self, out: TextIO, bot_name: str, interactive: bool) -> None:
        self._out = out
        self._bot_name = bot_name
        self._interactive = interactive

    async def send(self, reply: Reply) -> None:
        if reply.kind is ReplyKind.CHAT:
            self._out.write(f"{self._bot_name}: {reply.text}\n")
        else:
            self._out.write(f"[{reply.kind.value}] {reply.text}\n")
        self._out.flush()

    async def preview(self, text: str) -> None:
        """A terminal cannot take back a line: only the finished reply is printed."""

    @asynccontextmanager
    async def working(self) -> AsyncIterator[None]:
        if self._interactive:
            self._out.write(f"{self._bot_name} is typing…\r")
            self._out.flush()
        yield


class ConsoleAdapter:
    name = "console"

    def __init__(
        self,
        core: Core,
        *,
        bot_name: str,
        channel: str = "console",
        user: str = "you",
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        self._core = core
        self._in = stdin or sys.stdin
        self._out = stdout or sys.stdout
        self._interactive = self._in.isatty()
        self._where = ChannelRef("console", "", channel)
        self._author = Author(id=f"console:{user}", name=user, is_moderator=True)
        self._outbox = ConsoleOutbox(self._out, bot_name, self._interactive)
        self._task: asyncio.Task[None] | None = None
        self._count = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._read_loop(), name="console")

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _read_loop(self) -> None:
        while True:
            if self._interactive:
                self._out.write(f"{self._author.name}> ")
                self._out.flush()
            line = await asyncio.to_thread(self._in.readline)
            if not line:  # end of input
                return
            text = line.strip()
            if text:
                await self.handle_line(text)

    async def handle_line(self, text: str) -> None:
        self._count += 1
        message_id = f"console-{self._count}"
        if text.lower().startswith("/gpt2"):
            command = Command(self._where, self._author, text[5:].strip(), message_id)
            await self._core.on_command(command, self._outbox)
        else:
            event = Event(self._where, self._author, text, message_id, addressed=True, is_dm=True)
            await self._core.on_message(event, self._outbox)
