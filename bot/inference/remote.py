"""A `Generator` that sends each reply to an OpenAI-compatible server's `/v1/completions`.

The second implementation of the interface `InferenceQueue` implements; the handler cannot
tell them apart. The bot keeps what the local queue does: admission (at most
`max_in_flight` requests at the server, `max_queue` more waiting, then `QueueFull`), the
request timeout, cancellation by channel, streaming to `on_text`, and the stop pattern,
which is enforced here on the streamed text whatever the server did with `stop`; a match
closes the stream, and so the server's generation.

HTTP, retries and SSE are the official `openai` client's: it retries connection errors,
408/409/429 and 5xx with exponential backoff, honouring `Retry-After`, and reads the
stream. Everything it raises is turned into the bot's error tree here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import openai
from openai import AsyncOpenAI
from transformers import PreTrainedTokenizerBase

from bot import messages
from bot.errors import Busy, GenerationCancelled, GenerationError, GenerationTimeout, QueueFull
from bot.inference.dialects import Wire, off
from bot.inference.stops import StopScanner, compile_stop
from bot.inference.types import (
    FinishReason,
    Generation,
    GenerationRequest,
    ModelInfo,
    QueueStats,
    RemoteStatus,
    TextCallback,
)

__all__ = ["RemoteGenerator", "RemoteServer", "describe"]

log = logging.getLogger(__name__)

_RECENT = 200  # replies the latency figures cover
_FINISH = {"length": FinishReason.LENGTH, "stop": FinishReason.EOS}


@dataclass(frozen=True)
class RemoteServer:
    """What the start-up check learned about the server (`bot.inference.probe`)."""

    base_url: str
    model: str
    wire: Wire
    n_positions: int


@dataclass(eq=False)
class _Job:
    request: GenerationRequest
    on_text: TextCallback | None
    task: asyncio.Task[Generation] | None = None
    waiting: bool = True
    cancelled: bool = False
    enqueued: float = field(default_factory=time.monotonic)


@dataclass
class _Health:
    state: str = "ok"
    detail: str = ""
    since: float = field(default_factory=time.monotonic)
    first_text: deque[float] = field(default_factory=lambda: deque(maxlen=_RECENT))
    replies: deque[float] = field(default_factory=lambda: deque(maxlen=_RECENT))

    def set(self, state: str, detail: str = "") -> None:
        if state != self.state:
            self.since = time.monotonic()
            log.log(logging.INFO if state == "ok" else logging.WARNING, messages.remote_state(state, detail))
        self.state, self.detail = state, detail


class RemoteGenerator:
    """Implements `Generator` over an OpenAI-compatible completions server."""

    def __init__(
        self,
        client: AsyncOpenAI,
        server: RemoteServer,
        tokenizer: PreTrainedTokenizerBase,
        info: ModelInfo,
        *,
        max_in_flight: int = 16,
        max_queue: int = 256,
        timeout_s: float = 120.0,
    ) -> None:
        self.info = info
        self.server = server
        self._client = client
        self._tokenizer = tokenizer
        self._slots = asyncio.Semaphore(max_in_flight)
        self._max_in_flight = max_in_flight
        self._max_queue = max_queue
        self._timeout_s = timeout_s
        self._jobs: set[_Job] = set()
        self._health = _Health()
        self._completed = 0
        self._rejected = 0
        self._prompt_tokens = 0
        self._reported: set[str] = set()  # settings already logged as not applied

    async def stop(self) -> None:
        """Cancel what is waiting or running (closing its streams) and close the connections."""
        for job in list(self._jobs):
            self._cancel(job)
        tasks = [job.task for job in self._jobs if job.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._client.close()

    # --- Generator -------------------------------------------------------------------

    async def submit(self, request: GenerationRequest, on_text: TextCallback | None = None) -> Generation:
        waiting = sum(job.waiting for job in self._jobs)
        if waiting >= self._max_queue:
            self._rejected += 1
            raise QueueFull(messages.BUSY)
        if request.stop_pattern:
            compile_stop(request.stop_pattern)  # a bad pattern fails here, not mid-stream
        job = _Job(request, on_text)
        job.task = asyncio.create_task(self._run(job), name=f"remote-{request.channel_key}")
        self._jobs.add(job)
        try:
            return await asyncio.wait_for(job.task, self._timeout_s)
        except TimeoutError:
            raise GenerationTimeout(f"no reply from {self.server.base_url} within {self._timeout_s:g} s") from None
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if job.cancelled and not (task is not None and task.cancelling()):
                raise GenerationCancelled(f"request in {request.channel_key} cancelled") from None
            raise
        finally:
            self._jobs.discard(job)

    def cancel_channel(self, channel_key: str) -> int:
        jobs = [job for job in self._jobs if job.request.channel_key == channel_key]
        for job in jobs:
            self._cancel(job)
        return len(jobs)

    def stats(self) -> QueueStats:
        waiting = sum(job.waiting for job in self._jobs)
        return QueueStats(
            waiting=waiting,
            running=len(self._jobs) - waiting,
            max_queue=self._max_queue,
            max_batch=self._max_in_flight,
            largest_batch=0,
            completed=self._completed,
            rejected=self._rejected,
            prompt_tokens=self._prompt_tokens,
            remote=self.status(),
        )

    def status(self) -> RemoteStatus:
        h = self._health
        replies = sorted(h.replies)
        return RemoteStatus(
            server=self.server.wire.dialect.name,
            base_url=self.server.base_url,
            state=h.state,
            detail=h.detail,
            since_s=time.monotonic() - h.since,
            first_text_p50_s=_quantile(sorted(h.first_text), 0.5),
            reply_p50_s=_quantile(replies, 0.5),
            reply_p95_s=_quantile(replies, 0.95),
            replies=len(replies),
            not_applied=self.server.wire.not_applied(),
        )

    # --- one request -----------------------------------------------------------------

    def _cancel(self, job: _Job) -> None:
        job.cancelled = True
        if job.task is not None:
            job.task.cancel()

    async def _run(self, job: _Job) -> Generation:
        async with self._slots:
            job.waiting = False
            started = time.monotonic()
            self._prompt_tokens += len(job.request.prompt_ids)
            self._report_not_applied(job.request)
            try:
                text, reason, first_text = await self._generate(job.request, job.on_text, started)
            except openai.APIError as exc:
                raise self._failure(exc) from exc
        done = time.monotonic()
        self._health.set("ok")
        self._health.replies.append(done - started)
        if first_text is not None:
            self._health.first_text.append(first_text - started)
        self._completed += 1
        ids = tuple(self._tokenizer.encode(text, add_special_tokens=False))
        prompt = len(job.request.prompt_ids)
        return Generation(text, ids, reason, prompt, 1, started - job.enqueued, done - started)

    async def _generate(
        self, request: GenerationRequest, on_text: TextCallback | None, started: float
    ) -> tuple[str, FinishReason, float | None]:
        """One completion, streamed where the server can; a setting the server turns down
        (a 4xx naming its field) is reported, dropped from later requests, and this one resent."""
        while True:
            wire = self.server.wire
            try:
                if wire.streams(request.params):
                    return await self._stream(wire, request, on_text)
                return await self._complete(wire, request)
            except openai.APIStatusError as exc:
                named = wire.named_in(describe(exc)) if exc.status_code in (400, 422) else frozenset()
                if not named:
                    raise
                log.warning(messages.remote_rejected(wire.dialect.name, sorted(named), describe(exc)))
                self.server = RemoteServer(
                    self.server.base_url, self.server.model, wire.without(named), self.server.n_positions
                )

    async def _stream(
        self, wire: Wire, request: GenerationRequest, on_text: TextCallback | None
    ) -> tuple[str, FinishReason, float | None]:
        scanner = StopScanner(request.stop_pattern)
        text, shown, first_text = "", 0, None
        reason = FinishReason.LENGTH
        stream = await self._client.completions.create(
            model=self.server.model,
            prompt=self._prompt(wire, request.prompt_ids),
            stream=True,
            extra_body=self._body(wire, request),
        )
        try:
            async for chunk in stream:
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                text += choice.text
                safe = scanner.scan(text)
                if scanner.cut is not None:
                    return text[: scanner.cut], FinishReason.STOP, first_text
                if choice.finish_reason:
                    reason = _reason(choice.finish_reason, choice)
                if safe > shown:
                    first_text = first_text or time.monotonic()
                    shown = safe
                    _emit(on_text, text[:safe])
        finally:
            await stream.close()  # on a stop match or cancellation: the server stops generating
        return (*_final_cut(text, reason, request.stop_pattern), first_text)

    async def _complete(self, wire: Wire, request: GenerationRequest) -> tuple[str, FinishReason, float | None]:
        completion = await self._client.completions.create(
            model=self.server.model, prompt=self._prompt(wire, request.prompt_ids), extra_body=self._body(wire, request)
        )
        choice = completion.choices[0]
        return (*_final_cut(choice.text, _reason(choice.finish_reason, choice), request.stop_pattern), None)

    def _prompt(self, wire: Wire, ids: Sequence[int]) -> str | list[int]:
        return list(ids) if wire.token_prompts else str(self._tokenizer.decode(list(ids)))

    def _body(self, wire: Wire, request: GenerationRequest) -> dict[str, object]:
        return wire.body(request.params, request.stop_strings, self.info.eos_token_id)

    def _failure(self, exc: openai.APIError) -> Exception:
        """The bot's error for what the client raised (after its retries), and the server's state."""
        if isinstance(exc, openai.APIConnectionError):
            self._health.set("unreachable", describe(exc))
            return GenerationError(f"{self.server.base_url} unreachable: {describe(exc)}")
        self._health.set("failing", describe(exc))
        if isinstance(exc, openai.APIStatusError) and exc.status_code in (429, 503):
            return Busy(messages.BUSY)  # the server is overloaded, still after the retries
        return GenerationError(f"{self.server.base_url} failed: {describe(exc)}")

    def _report_not_applied(self, request: GenerationRequest) -> None:
        """Log once per setting when a request asks for one this server does not apply."""
        for setting in self.server.wire.not_applied():
            value = getattr(request.params, setting)
            if setting not in self._reported and not off(setting, value):
                self._reported.add(setting)
                log.warning(messages.remote_not_applied(self.server.wire.dialect.name, setting, value))


def _reason(finish: str | None, choice: object) -> FinishReason:
    """vLLM names the stop string that ended a reply in `stop_reason`; EOS leaves it empty."""
    if isinstance(getattr(choice, "stop_reason", None), str):
        return FinishReason.STOP
    return _FINISH.get(finish or "", FinishReason.LENGTH)


def _final_cut(text: str, reason: FinishReason, pattern: str | None) -> tuple[str, FinishReason]:
    """At the end of a reply, a held-back partial match is decided: a servers that keeps the stop
    string in its text (transformers) ends with one."""
    if pattern:
        found = compile_stop(pattern).search(text)
        if found is not None:
            return text[: found.start()], FinishReason.STOP
    return text, reason


def _emit(on_text: TextCallback | None, text: str) -> None:
    if on_text is None:
        return
    try:
        on_text(text)
    except Exception:
        log.exception("a streaming callback failed; the generation goes on")


def describe(exc: openai.APIError) -> str:
    """What went wrong, in one line: the status and the server's own words, or the connection's error."""
    cause = exc.__cause__
    if isinstance(exc, openai.APIConnectionError) and cause is not None:
        return f"{exc.message.rstrip('.')} ({type(cause).__name__}: {cause})"[:300]
    if isinstance(exc, openai.APIStatusError):
        body = exc.body.get("detail", exc.body) if isinstance(exc.body, dict) else exc.body
        return f"HTTP {exc.status_code}: {body or exc.message}"[:300]
    return (f"{exc.message}: {exc.body}" if exc.body else exc.message)[:300]  # e.g. an error event in the stream


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]
