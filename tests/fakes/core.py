"""Fakes at the core's boundaries: a recording Outbox and a scripted Generator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.commands import CommandRunner
from bot.config import Config
from bot.conversation import Transcript
from bot.events import Reply
from bot.guard import Guard
from bot.handler import ChatHandler
from bot.history import History
from bot.inference.tokenizer import packaged_tokenizer
from bot.inference.types import (
    FinishReason,
    Generation,
    GenerationRequest,
    Generator,
    ModelInfo,
    QueueStats,
)
from bot.ratelimit import RateLimiter
from bot.store import Store
from storage.memory import MemoryStore

INFO = ModelInfo("scripted", "cpu", "float32", 1024, 1000, 50256)


class RecordingOutbox:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.working_entered = 0
        self.working_active = False

    async def send(self, reply: Reply) -> None:
        self.replies.append(reply)

    @asynccontextmanager
    async def working(self) -> AsyncIterator[None]:
        self.working_entered += 1
        self.working_active = True
        try:
            yield
        finally:
            self.working_active = False

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.replies]


class ScriptedGenerator:
    """Answers with scripted texts in order (the last repeats), or raises a scripted error."""

    def __init__(self, *texts: str, delay_s: float = 0.0, info: ModelInfo = INFO) -> None:
        self.info = info
        self.texts = list(texts) or ["hello there"]
        self.delay_s = delay_s
        self.requests: list[GenerationRequest] = []
        self.error: Exception | None = None
        self.on_submit: Callable[[GenerationRequest], None] | None = None
        self.cancelled: list[str] = []

    async def submit(self, request: GenerationRequest) -> Generation:
        self.requests.append(request)
        if self.on_submit is not None:
            self.on_submit(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.error is not None:
            raise self.error
        text = self.texts.pop(0) if len(self.texts) > 1 else self.texts[0]
        return Generation(text, (1, 2, 3), FinishReason.STOP, len(request.prompt_ids))

    def cancel_channel(self, channel_key: str) -> int:
        self.cancelled.append(channel_key)
        return 0

    def stats(self) -> QueueStats:
        return QueueStats(0, 0, 256, 64, 1, len(self.requests), 0)


@dataclass
class CoreRig:
    """The real core (handler, commands, history) over a store and a generator of the test's choosing."""

    config: Config
    store: Store
    generator: Generator
    handler: ChatHandler
    runner: CommandRunner


def build_core(
    store: Store | None = None,
    generator: Generator | None = None,
    config: Config | None = None,
    guard: Guard | None = None,
) -> CoreRig:
    config = config or Config()
    store = store or MemoryStore()
    generator = generator or ScriptedGenerator()
    history = History(store, Transcript(packaged_tokenizer(), config.bot.name, generator.info.n_positions))
    runner = CommandRunner(config, store, generator, history, safety=guard)
    limiter = RateLimiter(config.ratelimit.user_per_minute, config.ratelimit.channel_per_minute)
    handler = ChatHandler(config, store, generator, history, runner, limiter, guard)
    return CoreRig(config, store, generator, handler, runner)
