"""What the Discord adapter's parts share: the client, whether it is stopping, the handlings in flight.

A handling is one message or command being answered, in discord.py's event task or (a
message recovered from the inbox) a task of its own. `Handlings` counts them, so the
adapter answers "busy" beyond `MAX_PENDING`, waits for them to finish (`idle`) and cuts
them off on a stop (`cut_off`). A handling cut off because its client failed (handed
back) cannot reach Discord any more: it only gives its message back to the inbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import discord

__all__ = ["MAX_PENDING", "Handlings", "Session"]

MAX_PENDING = 256  # messages and commands in flight; beyond this they are answered "busy"


@dataclass
class Session:
    """The client now (a sharded client that failed is replaced) and whether the bot is stopping."""

    client: discord.Client | None = None
    paused: bool = False

    @property
    def me(self) -> discord.ClientUser | None:
        return self.client.user if self.client is not None else None


class Handlings:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._room = asyncio.Event()  # set whenever a handling ends
        self._handed_back: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def full(self) -> bool:
        return len(self._tasks) >= MAX_PENDING

    @contextmanager
    def tracked(self) -> Iterator[None]:
        """Count the current task (discord.py's event task) as a handling while the body runs."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            yield
        finally:
            self._left(task)

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._left)

    async def room(self) -> None:
        """Return once fewer than `MAX_PENDING` handlings run."""
        while self.full:
            self._room.clear()
            await self._room.wait()

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def cut_off(self, timeout_s: float, *, hand_back: bool = False) -> int:
        """Cancel every handling (but the caller) and wait up to `timeout_s` for them to tidy up."""
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        if hand_back:
            self._handed_back.update(tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
        self._handed_back.difference_update(tasks)
        return len(tasks)

    def handed_back(self) -> bool:
        """Whether the current handling was cut off with its failed client (no REST calls left)."""
        return asyncio.current_task() in self._handed_back

    def _left(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._room.set()
