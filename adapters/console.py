"""The console adapter: each input line is a message, `/gpt2 ...` lines are commands.

Works interactively and with piped stdin: one reply per non-empty input line, in order,
and `wait()` returns at end of input after the last reply. The console user is a moderator.
Input is read as UTF-8 with bytes that are not valid UTF-8 replaced (`U+FFFD`), so piped
binary junk reaches the bot as text it can answer, never as an exception. Lines are read
by a daemon thread straight from the file descriptor, so a stop never waits for someone to
press Enter, and the interpreter never finds that thread holding `sys.stdin`'s lock at exit
(which aborts Python with "could not acquire lock … at interpreter shutdown").
"""

from __future__ import annotations

import asyncio
import codecs
import os
import secrets
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import TextIO

from bot.events import Author, ChannelRef, Command, Core, Event, Reply, ReplyKind

__all__ = ["ConsoleAdapter", "ConsoleOutbox", "read_lines"]


def read_lines(stream: TextIO | int) -> Iterator[str]:
    """Lines of a text stream, or of a file descriptor decoded as UTF-8 with replacement;
    the last line may lack its newline."""
    if not isinstance(stream, int):
        yield from iter(stream.readline, "")
        return
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    while True:
        chunk = os.read(stream, 65536)
        pending += decoder.decode(chunk, final=not chunk)
        *lines, pending = pending.split("\n")
        yield from (line + "\n" for line in lines)
        if not chunk:
            if pending:
                yield pending
            return


class ConsoleOutbox:
    def __init__(self, out: TextIO, bot_name: str, interactive: bool) -> None:
        self._out = out
        self._bot_name = bot_name
        self._interactive = interactive

    async def send(self, reply: Reply) -> str | None:
        if reply.kind is ReplyKind.CHAT:
            self._out.write(f"{self._bot_name}: {reply.text}\n")
        else:
            self._out.write(f"[{reply.kind.value}] {reply.text}\n")
        self._out.flush()
        return ""

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
        stdin: TextIO | int | None = None,  # a text stream, or a file descriptor read as UTF-8
        stdout: TextIO | None = None,
    ) -> None:
        self._core = core
        self._in: TextIO | int = stdin if stdin is not None else sys.stdin.fileno()
        self._out = stdout or sys.stdout
        self._interactive = os.isatty(self._in) if isinstance(self._in, int) else self._in.isatty()
        self._where = ChannelRef("console", "", channel)
        self._author = Author(id=f"console:{user}", name=user, is_moderator=True)
        self._outbox = ConsoleOutbox(self._out, bot_name, self._interactive)
        self._task: asyncio.Task[None] | None = None
        self._lines: asyncio.Queue[str] = asyncio.Queue()
        self._paused = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._count = 0
        self._session = secrets.token_hex(4)

    @property
    def pending(self) -> int:
        return 0 if self._idle.is_set() else 1

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._read, args=(loop,), name="console-stdin", daemon=True).start()
        self._task = asyncio.create_task(self._answer_lines(), name="console")

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def pause(self) -> None:
        self._paused = True

    async def idle(self) -> None:
        await self._idle.wait()

    async def stop(self) -> None:
        self._paused = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        """The reading thread: every line, then "" at end of input."""
        try:
            try:
                for line in read_lines(self._in):
                    loop.call_soon_threadsafe(self._lines.put_nowait, line)
            except OSError:  # stdin closed under us: that is the end of input too
                pass
            loop.call_soon_threadsafe(self._lines.put_nowait, "")
        except RuntimeError:  # the loop is closed: the bot has stopped
            return

    async def _answer_lines(self) -> None:
        while not self._paused:
            if self._interactive:
                self._out.write(f"{self._author.name}> ")
                self._out.flush()
            line = await self._lines.get()
            if not line or self._paused:  # end of input, or stopping: take no new work
                return
            text = line.strip()
            if text:
                self._idle.clear()
                try:
                    await self.handle_line(text)
                finally:
                    self._idle.set()

    async def handle_line(self, text: str) -> None:
        self._count += 1
        message_id = f"console-{self._session}-{self._count}"  # unique across runs: stored turns keep it
        if text.lower().startswith("/gpt2"):
            command = Command(self._where, self._author, text[5:].strip(), message_id)
            await self._core.on_command(command, self._outbox)
        else:
            event = Event(self._where, self._author, text, message_id, addressed=True, is_dm=True)
            await self._core.on_message(event, self._outbox)
