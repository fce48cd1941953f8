"""Fakes at the core's boundaries: a recording Outbox and a scripted Generator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bot.commands import CommandRunner
from bot.config import Config
from bot.events import ChannelRef, Command, Reply, ReplyKind
from bot.guard import Decision, Guard
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
    TextCallback,
)
from bot.prompt import Transcript
from bot.ratelimit import RateLimiter
from bot.store import Store
from storage.memory import MemoryStore

INFO = ModelInfo("scripted", "cpu", "float32", 1024, 1000, 50256)
STREAM_PARTS = 4


class RecordingOutbox:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.previews: list[str] = []
        self.events: list[tuple[str, str]] = []  # ("send" | "preview", text) in order
        self.working_entered = 0
        self.working_active = False

    async def send(self, reply: Reply) -> str | None:
        self.replies.append(reply)
        self.events.append(("send", reply.text))
        return f"sent-{len(self.replies)}"

    async def preview(self, text: str) -> None:
        self.previews.append(text)
        self.events.append(("preview", text))

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


async def write_slowly(text: str, delay_s: float, on_text: TextCallback | None) -> None:
    """Take `delay_s`; with `on_text`, hand out `text` growing in `STREAM_PARTS` equal steps
    (the last step is the finished reply, which the caller returns)."""
    if not delay_s:
        return
    parts = STREAM_PARTS if on_text is not None else 1
    for part in range(1, parts + 1):
        await asyncio.sleep(delay_s / parts)
        if on_text is not None and part < parts:
            on_text(text[: len(text) * part // parts])


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

    async def submit(self, request: GenerationRequest, on_text: TextCallback | None = None) -> Generation:
        """With `delay_s` and `on_text`, the text grows in `STREAM_PARTS` equal pieces over the delay."""
        self.requests.append(request)
        if self.on_submit is not None:
            self.on_submit(request)
        text = self.texts.pop(0) if len(self.texts) > 1 else self.texts[0]
        await write_slowly(text, self.delay_s, on_text)
        if self.error is not None:
            raise self.error
        return Generation(text, (1, 2, 3), FinishReason.STOP, len(request.prompt_ids))

    def cancel_channel(self, channel_key: str) -> int:
        self.cancelled.append(channel_key)
        return 0

    def stats(self) -> QueueStats:
        return QueueStats(0, 0, 256, 64, 1, len(self.requests), 0)


@dataclass
class ScriptedGuard:
    """A `Guard` whose decisions the test scripts; it records what it was asked."""

    input_decision: Decision | None = None  # None: allow the input as it is
    output_blocked: list[bool] = field(default_factory=list)  # per attempt; then allowed
    output_error: Exception | None = None
    held: str = ""  # previews containing this are held back
    output_texts: list[str] = field(default_factory=list)
    previews_checked: list[str] = field(default_factory=list)
    screens: int = 0

    async def screen(self, where: ChannelRef, user_id: str) -> ScriptedScreen:
        self.screens += 1
        return ScriptedScreen(self)

    async def run_command(self, args: str, command: Command) -> Reply:
        return Reply(f"safety {args}", ReplyKind.COMMAND)


@dataclass
class ScriptedScreen:
    guard: ScriptedGuard

    async def check_input(self, text: str) -> Decision:
        return self.guard.input_decision or Decision(False, text)

    async def check_output(self, text: str, attempt: int, final: bool) -> Decision:
        if self.guard.output_error:
            raise self.guard.output_error
        self.guard.output_texts.append(text)
        blocked = self.guard.output_blocked.pop(0) if self.guard.output_blocked else False
        return Decision(blocked, text.replace("555-1234", "[phone]"), ref=f"ref{attempt}")

    async def allows_preview(self, text: str) -> bool:
        self.guard.previews_checked.append(text)
        return not (self.guard.held and self.guard.held in text)


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
