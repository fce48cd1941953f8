"""Fakes at the core's boundaries: a recording Outbox and a scripted Generator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bot.events import Reply
from bot.inference.types import (
    FinishReason,
    Generation,
    GenerationRequest,
    ModelInfo,
    QueueStats,
)

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
