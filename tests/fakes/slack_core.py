"""The real core (`ChatHandler`) with a scripted generator in place of GPT-2.

Everything between the adapter and the model is the production code: commands,
permissions, settings, the store and its audit rows, history and prompt building. Only
generation is scripted: `ScriptedGenerator` answers with fixed text, optionally after
a delay, and records the prompts it was given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from transformers import PreTrainedTokenizerBase

from bot.commands import CommandRunner
from bot.config import Config
from bot.handler import ChatHandler
from bot.history import History
from bot.inference.types import FinishReason, Generation, GenerationRequest, ModelInfo, QueueStats, TextCallback
from bot.prompt import Transcript
from bot.ratelimit import RateLimiter
from bot.store import Store
from tests.fakes.core import write_slowly

__all__ = ["ScriptedGenerator", "real_core"]


@dataclass
class ScriptedGenerator:
    """A `Generator` whose reply is `reply(request)` after `delay_s` seconds."""

    reply: Callable[[GenerationRequest], str] = lambda request: " Hello from the model."
    delay_s: float = 0.0
    requests: list[GenerationRequest] = field(default_factory=list)
    info: ModelInfo = field(default_factory=lambda: ModelInfo("scripted", "cpu", "float32", 1024, 0, 50256))

    async def submit(self, request: GenerationRequest, on_text: TextCallback | None = None) -> Generation:
        self.requests.append(request)
        text = self.reply(request)
        await write_slowly(text, self.delay_s, on_text)
        return Generation(text, (), FinishReason.EOS, len(request.prompt_ids), generated_s=self.delay_s)

    def cancel_channel(self, channel_key: str) -> int:
        return 0

    def stats(self) -> QueueStats:
        return QueueStats(0, 0, 256, 64, 1, len(self.requests), 0)


def real_core(
    config: Config, store: Store, generator: ScriptedGenerator, tokenizer: PreTrainedTokenizerBase
) -> ChatHandler:
    """`ChatHandler` wired as `bot.app` wires it, minus the safety guard."""
    history = History(store, Transcript(tokenizer, config.bot.name))
    commands = CommandRunner(config, store, generator, history)
    limiter = RateLimiter(config.ratelimit.user_per_minute, config.ratelimit.channel_per_minute)
    return ChatHandler(config, store, generator, history, commands, limiter)
