"""What crosses the inference boundary: requests, results, and the two interfaces.

`Generator` is what the core awaits (the async queue implements it).
`Engine` is what the queue's single worker thread drives, one step at a time;
the engine decides nothing about fairness, the queue decides nothing about tensors.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "Engine",
    "EngineRequest",
    "EngineStepError",
    "EngineUpdate",
    "FinishReason",
    "Generation",
    "GenerationRequest",
    "Generator",
    "ModelInfo",
    "QueueStats",
    "RemoteStatus",
    "SamplingParams",
    "StepResult",
    "TextCallback",
]


@dataclass(frozen=True)
class SamplingParams:
    """Per-request decoding settings. Defaults, bounds and help live in one place, the config's
    `[generation]` section (`bot.settings` builds these from a channel's settings)."""

    temperature: float
    top_k: int  # 0 = off
    top_p: float  # 1.0 = off
    repetition_penalty: float  # 1.0 = off (HF semantics: divide positive logits)
    no_repeat_ngram_size: int  # 0 = off
    num_beams: int  # > 1: beam search (deterministic, may run outside the batch)
    max_new_tokens: int
    do_sample: bool  # False: greedy (or beam search when num_beams > 1)
    seed: int | None = None  # same seed + same prompt -> same sample


class FinishReason(enum.Enum):
    EOS = "eos"  # the model emitted <|endoftext|>
    STOP = "stop"  # the stop pattern matched (another speaker's line began)
    LENGTH = "length"  # max_new_tokens reached
    WINDOW = "window"  # the 1024-position cap reached
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ModelInfo:
    name: str  # what was configured: hub id, path, or "demo"
    device: str  # "cpu", "cuda", "cuda:0", "mps"
    dtype: str  # "float32", "float16", "bfloat16"
    n_positions: int  # context window (1024 for GPT-2)
    n_params: int
    eos_token_id: int
    is_demo: bool = False


@dataclass(frozen=True)
class GenerationRequest:
    prompt_ids: tuple[int, ...]
    params: SamplingParams
    channel_key: str  # the conversation asking (`cancel_channel` on reset; logs)
    stop_pattern: str | None = None  # regex over generated text; the reply ends where it starts
    # Literal strings that begin a stop match (e.g. "\nAnn:"), for servers whose `stop` takes no regex;
    # the pattern is still enforced on the reply. The local engine needs only the pattern.
    stop_strings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Generation:
    text: str  # decoded reply, cut before any stop match (not stripped)
    token_ids: tuple[int, ...]  # generated ids (after the stop cut: what `text` decodes from)
    finish_reason: FinishReason
    prompt_tokens: int
    batch_size: int = 1  # the largest batch this request was decoded in
    queued_s: float = 0.0
    generated_s: float = 0.0


@dataclass(frozen=True)
class QueueStats:
    waiting: int
    running: int
    max_queue: int
    max_batch: int
    largest_batch: int  # largest batch decoded since start
    completed: int
    rejected: int
    reused_tokens: int = 0  # prompt tokens taken from the prefix cache since start
    prompt_tokens: int = 0  # prompt tokens admitted since start
    generated_tokens: int = 0  # tokens generated since start
    remote: RemoteStatus | None = None  # set by a generator that talks to a remote server


@dataclass(frozen=True)
class RemoteStatus:
    """A remote inference server as the bot sees it: for `status`."""

    server: str  # its kind: vllm, tgi, llama.cpp, transformers, openai
    base_url: str
    state: str  # "ok", "unreachable" or "failing"
    detail: str  # what went wrong last, in a few words ("" when ok)
    since_s: float  # how long it has been in this state
    first_text_p50_s: float | None  # recent replies: time to the first streamed text
    reply_p50_s: float | None  # recent replies: whole reply
    reply_p95_s: float | None
    replies: int  # how many recent replies those figures cover
    not_applied: tuple[str, ...]  # settings this server does not apply (unsupported or rejected)


TextCallback = Callable[[str], None]


class Generator(Protocol):
    """The core's view of inference: submit and await; full queues raise `QueueFull`."""

    info: ModelInfo

    async def submit(self, request: GenerationRequest, on_text: TextCallback | None = None) -> Generation:
        """Generate a reply. `on_text`, if given, is called on the event loop with the reply's
        text so far each time it has grown (calls are coalesced, so some lengths are skipped;
        the returned `Generation` is the final word). It must not block."""
        ...

    def cancel_channel(self, channel_key: str) -> int:
        """Cancel waiting and running requests of a channel; returns how many."""
        ...

    def stats(self) -> QueueStats: ...


# --- engine side (synchronous, owned by the single worker thread) -----------------


@dataclass(frozen=True)
class EngineRequest:
    request_id: int
    prompt_ids: tuple[int, ...]
    params: SamplingParams
    stop_pattern: str | None = None


@dataclass(frozen=True)
class EngineUpdate:
    """What happened to one request during a step.

    `delta` is newly visible text (streaming); text that might still turn out to be the start
    of a stop match is held back until it is known not to be. When `finished` is set,
    `generation` holds the whole result.
    """

    request_id: int
    delta: str = ""
    finished: bool = False
    generation: Generation | None = None


@dataclass(frozen=True)
class StepResult:
    batch_size: int  # rows decoded in this step (0 if idle)
    updates: tuple[EngineUpdate, ...] = field(default_factory=tuple)
    reused_tokens: int = 0  # prompt tokens not prefilled this step: their keys/values were cached


class EngineStepError(RuntimeError):
    """A step failed: `failed` requests were dropped, `updates` (produced earlier in the step) still
    need delivering. The engine stays usable; the queue keeps stepping."""

    def __init__(self, failed: tuple[int, ...], updates: tuple[EngineUpdate, ...]) -> None:
        self.failed = failed
        self.updates = updates
        super().__init__(f"engine step failed for requests {list(failed)}")


class Engine(Protocol):
    """A batched decoder: requests join between steps and leave as soon as they finish."""

    info: ModelInfo
    max_batch: int

    def add(self, request: EngineRequest) -> None:
        """Admit a request (prefilled at the next step). Raises ValueError if it cannot fit."""
        ...

    def cancel(self, request_id: int) -> None:
        """Drop a request; it finishes with FinishReason.CANCELLED at the next step."""
        ...

    def active(self) -> int:
        """Requests admitted and not yet finished."""
        ...

    def step(self) -> StepResult:
        """Prefill newcomers, decode one token for every active row, report updates.

        Raises `EngineStepError` when some requests failed (the rest carry on); any other
        exception means every running request is lost.
        """
        ...
