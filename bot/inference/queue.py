"""The async inference queue: bounded admission, first come first served, one worker thread.

The event loop side (`submit`) only enqueues and awaits a Future. One worker thread owns
the engine: between decode steps it admits waiting requests in arrival order and the
engine merges them into the running batch. Scheduling policy: first come, first served.
Fairness across conversations is not decided here but by the handler, which sends one
request per conversation at a time, so a busy channel never holds more than one place
in line. A request is refused with `QueueFull` ("busy") at once, before anything is
queued, when `max_queue` requests wait already or when it would wait longer than
`max_wait_s` to start (estimated from how long recent replies took). Results go back to
the loop with `call_soon_threadsafe`; asyncio objects are never touched from the worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot import messages, metrics
from bot.errors import GenerationCancelled, GenerationError, GenerationTimeout, QueueFull
from bot.inference.types import (
    Engine,
    EngineRequest,
    EngineStepError,
    EngineUpdate,
    FinishReason,
    Generation,
    GenerationRequest,
    ModelInfo,
    QueueStats,
    TextCallback,
)

__all__ = ["InferenceQueue"]

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Job:
    id: int
    request: GenerationRequest
    future: asyncio.Future[Generation]
    loop: asyncio.AbstractEventLoop
    enqueued: float = field(default_factory=time.monotonic)
    started: float = 0.0
    on_text: TextCallback | None = None
    first_token: bool = False  # its first text has arrived (time to first token recorded)
    text: str = ""  # streamed so far (worker writes, loop reads; both under the queue's lock)
    text_pending: bool = False  # a call of `on_text` is scheduled on the loop


@dataclass
class _Counters:
    completed: int = 0
    rejected: int = 0
    largest_batch: int = 0
    steps: int = 0
    rows: int = 0  # sum of batch sizes since the last summary
    tokens: int = 0
    since: float = field(default_factory=time.monotonic)
    prompt_tokens: int = 0  # admitted since start
    reused_tokens: int = 0  # of those, taken from the prefix cache
    generated_tokens: int = 0  # since start
    reply_s: float = 0.0  # moving average of how long a reply takes to generate once started


class InferenceQueue:
    """Implements `Generator` over an `Engine` driven by one worker thread."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_queue: int = 256,
        timeout_s: float = 120.0,
        max_wait_s: float = 0.0,
        summary_every_s: float = 10.0,
    ) -> None:
        self.info: ModelInfo = engine.info
        self._engine = engine
        self._max_queue = max_queue
        self._timeout_s = timeout_s
        self._max_wait_s = max_wait_s
        self._summary_every_s = summary_every_s
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._pending: deque[_Job] = deque()
        self._running: dict[int, _Job] = {}
        self._to_cancel: set[int] = set()
        self._counters = _Counters()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="gpt2bot-inference", daemon=True)
            self._thread.start()

    async def stop(self) -> None:
        """Cancel everything waiting or running and stop the worker."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30.0)
            self._thread = None

    # --- Generator ---------------------------------------------------------------------

    async def submit(self, request: GenerationRequest, on_text: TextCallback | None = None) -> Generation:
        loop = asyncio.get_running_loop()
        job = _Job(next(self._ids), request, loop.create_future(), loop, on_text=on_text)
        job.future.add_done_callback(_consume)  # a late failure after a timeout is not "never retrieved"
        with self._cond:
            if self._stopping:
                raise GenerationCancelled("the bot is shutting down")
            if len(self._pending) >= self._max_queue or self._expected_wait() > self._max_wait_s > 0:
                self._counters.rejected += 1
                raise QueueFull(messages.BUSY)
            self._pending.append(job)
            self._cond.notify()
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), self._timeout_s)
        except TimeoutError:
            self._cancel(job)
            raise GenerationTimeout(f"request {job.id} exceeded {self._timeout_s:g} s") from None
        except asyncio.CancelledError:
            self._cancel(job)
            raise

    def cancel_channel(self, channel_key: str) -> int:
        with self._cond:
            jobs = [j for j in (*self._pending, *self._running.values()) if j.request.channel_key == channel_key]
        for job in jobs:
            self._cancel(job)
        return len(jobs)

    def stats(self) -> QueueStats:
        with self._cond:
            return QueueStats(
                waiting=len(self._pending),
                running=len(self._running),
                max_queue=self._max_queue,
                max_batch=self._engine.max_batch,
                largest_batch=self._counters.largest_batch,
                completed=self._counters.completed,
                rejected=self._counters.rejected,
                reused_tokens=self._counters.reused_tokens,
                prompt_tokens=self._counters.prompt_tokens,
                generated_tokens=self._counters.generated_tokens,
            )

    # --- event-loop side helpers ---------------------------------------------------------

    def _expected_wait(self) -> float:
        """Seconds a request queued now would wait to start: the requests ahead of it leave
        at about `max_batch` per average reply time once every row is busy (under the lock)."""
        ahead = len(self._pending) + len(self._running) - self._engine.max_batch + 1
        if ahead <= 0:
            return 0.0
        return ahead * self._counters.reply_s / self._engine.max_batch

    def _cancel(self, job: _Job) -> None:
        with self._cond:
            if job in self._pending:
                self._pending.remove(job)
                _resolve(job, error=GenerationCancelled(f"request {job.id} cancelled"))
            elif job.id in self._running:
                self._to_cancel.add(job.id)
                self._cond.notify()

    # --- worker thread -----------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    break
                self._apply_cancellations()
                self._admit()
                if self._engine.active() == 0:
                    self._cond.wait(timeout=1.0)
                    continue
            self._step()
        self._shutdown()

    def _admit(self) -> None:
        """Waiting requests in arrival order, as many as the batch has room for."""
        free = self._engine.max_batch - self._engine.active()
        while free > 0 and self._pending:
            job = self._pending.popleft()
            if job.future.done():  # timed out or cancelled while waiting
                continue
            try:
                request = job.request
                self._engine.add(EngineRequest(job.id, request.prompt_ids, request.params, request.stop_pattern))
            except ValueError as exc:
                _resolve(job, error=GenerationError(str(exc)))
                continue
            job.started = time.monotonic()
            metrics.QUEUE_WAIT_SECONDS.observe(job.started - job.enqueued)
            self._counters.prompt_tokens += len(request.prompt_ids)
            self._running[job.id] = job
            free -= 1

    def _apply_cancellations(self) -> None:
        for job_id in self._to_cancel:
            if job_id in self._running:
                self._engine.cancel(job_id)
        self._to_cancel.clear()

    def _step(self) -> None:
        try:
            result = self._engine.step()
        except EngineStepError as exc:
            log.error("inference step failed for %d request(s)", len(exc.failed), exc_info=exc.__cause__ or exc)
            with self._cond:
                self._deliver(exc.updates)
                for request_id in exc.failed:
                    job = self._running.get(request_id)
                    if job is not None:
                        self._finish(job, error=GenerationError("the model failed during generation"))
            return
        except Exception:
            log.exception("inference step failed; failing the %d running requests", len(self._running))
            with self._cond:
                for failed in list(self._running.values()):
                    self._engine.cancel(failed.id)
                    self._finish(failed, error=GenerationError("the model failed during generation"))
            return
        with self._cond:
            self._count_step(result.batch_size)
            self._counters.reused_tokens += result.reused_tokens
            self._deliver(result.updates)

    def _deliver(self, updates: Iterable[EngineUpdate]) -> None:
        for update in updates:
            job = self._running.get(update.request_id)
            if job is not None and not job.first_token and (update.delta or _generated(update)):
                job.first_token = True
                metrics.FIRST_TOKEN_SECONDS.observe(time.monotonic() - job.enqueued)
            if job is not None and update.delta and not update.finished:
                self._stream(job, update.delta)
            if job is None or not update.finished or update.generation is None:
                continue
            gen = update.generation
            if gen.finish_reason is FinishReason.CANCELLED:
                self._finish(job, error=GenerationCancelled(f"request {job.id} cancelled"))
                continue
            self._counters.tokens += len(gen.token_ids)
            self._counters.generated_tokens += len(gen.token_ids)
            now = time.monotonic()
            timed = dataclasses.replace(gen, queued_s=job.started - job.enqueued, generated_s=now - job.started)
            c = self._counters
            c.reply_s = timed.generated_s if not c.completed else 0.8 * c.reply_s + 0.2 * timed.generated_s
            self._finish(job, result=timed)

    def _stream(self, job: _Job, delta: str) -> None:
        """Hand the grown text to `on_text` on the loop; at most one call pending per job."""
        if job.on_text is None:
            return
        job.text += delta
        if not job.text_pending and not job.loop.is_closed():
            job.text_pending = True
            job.loop.call_soon_threadsafe(self._emit_text, job)

    def _emit_text(self, job: _Job) -> None:
        with self._cond:
            text, job.text_pending = job.text, False
        if job.on_text is not None and not job.future.done():
            try:
                job.on_text(text)
            except Exception:
                log.exception("a streaming callback failed; the generation goes on")

    def _finish(self, job: _Job, *, result: Generation | None = None, error: Exception | None = None) -> None:
        self._running.pop(job.id, None)
        self._counters.completed += result is not None
        _resolve(job, result=result, error=error)

    def _count_step(self, batch_size: int) -> None:
        c = self._counters
        if batch_size:
            metrics.BATCH_SIZE.observe(batch_size)
        c.largest_batch = max(c.largest_batch, batch_size)
        c.steps += 1
        c.rows += batch_size
        now = time.monotonic()
        if now - c.since >= self._summary_every_s:
            log.info(
                "inference: %d steps, mean batch %.1f, largest batch %d, %d tokens (%.0f tok/s), %d waiting",
                c.steps,
                c.rows / c.steps,
                c.largest_batch,
                c.tokens,
                c.tokens / (now - c.since),
                len(self._pending),
            )
            c.steps = c.rows = c.tokens = 0
            c.since = now

    def _shutdown(self) -> None:
        with self._cond:
            jobs = [*self._pending, *self._running.values()]
            for job in list(self._running.values()):
                self._engine.cancel(job.id)
            self._pending.clear()
            self._running.clear()
        for job in jobs:
            _resolve(job, error=GenerationCancelled("the bot is shutting down"))


def _generated(update: EngineUpdate) -> bool:
    """The update finishes a generation that was not cancelled."""
    gen = update.generation
    return update.finished and gen is not None and gen.finish_reason is not FinishReason.CANCELLED


def _consume(future: asyncio.Future[Generation]) -> None:
    if not future.cancelled():
        future.exception()


def _resolve(job: _Job, *, result: Generation | None = None, error: Exception | None = None) -> None:
    """Complete a job's future from any thread."""

    def settle() -> None:
        if job.future.done():
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)  # type: ignore[arg-type]

    if job.loop.is_closed():
        return
    job.loop.call_soon_threadsafe(settle)
