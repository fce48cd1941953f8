"""`BatchEngine`: iteration-level batched GPT-2 decoding over a slot KV cache.

One worker thread drives it: `add()` and `cancel()` between steps, `step()` in a loop. Each step

1. finishes cancelled requests (slot freed at once);
2. starts a waiting beam-search request on the beam thread, or reports the one that finished
   there (`beam.py`): beams never hold up the batch;
3. admits waiting requests into free slots (up to `max_batch` rows, `max_prefill_tokens` of
   prompt per step, at least one) and prefills their prompts, after copying in the longest
   prefix a finished request left in the prefix cache (`prefixes.py`), if any;
4. decodes one token for every running row in one batched forward (a captured CUDA graph on
   CUDA), picks tokens with per-row sampling settings, and copies the new tokens to the host
   once (the step's only synchronisation);
5. streams text, checks EOS / stop pattern / max_new_tokens / window, keeps finished rows'
   keys/values in the prefix cache, and frees their slots.

Errors: `add()` raises ValueError for a request that cannot run (does not fit the window, bad
settings, bad stop pattern, duplicate id). If a step fails, `step()` raises `EngineStepError`
naming the requests that were dropped (`failed`) and carrying the updates produced before the
failure (`updates`); the engine stays usable. The queue should deliver `updates`, fail the
`failed` requests (GenerationError), and keep stepping.
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass

import torch
from transformers import GPT2LMHeadModel, PreTrainedTokenizerBase

from bot.inference.admission import check_request
from bot.inference.batchstate import BatchState, to_device
from bot.inference.beam import BeamDone, BeamWorker
from bot.inference.detokenizer import TokenBytes
from bot.inference.gpt2 import Gpt2Forward, Gpt2Weights
from bot.inference.graphs import DecodeGraphs, batch_buckets, checked_graphs, length_buckets
from bot.inference.kvcache import SlotKvCache
from bot.inference.linear import cpu_parts
from bot.inference.prefixes import PrefixCache
from bot.inference.rows import Row, cancelled_before_start
from bot.inference.sampling import SamplingPlan
from bot.inference.types import (
    EngineRequest,
    EngineStepError,
    EngineUpdate,
    FinishReason,
    ModelInfo,
    StepResult,
)

__all__ = ["BatchEngine", "EngineStepError"]


@dataclass(frozen=True)
class _Waiting:
    request: EngineRequest
    added_at: float


class BatchEngine:
    """The `Engine` protocol over a loaded `GPT2LMHeadModel` (see the module docstring)."""

    def __init__(
        self,
        model: GPT2LMHeadModel,
        tokenizer: PreTrainedTokenizerBase,
        info: ModelInfo,
        max_batch: int = 64,
        *,
        max_prefill_tokens: int = 4096,
        cuda_graphs: bool | None = None,
        clip_to_window: bool = False,
        weight_parts: int | None = None,
        prefix_cache_bytes: int = 0,
    ) -> None:
        """`weight_parts`: column blocks per weight product (`bot.inference.linear`); default
        torch's thread count on CPU, 1 on CUDA. `prefix_cache_bytes`: memory for finished
        requests' keys/values, reused by prompts that start the same way (`prefixes.py`; 0 = off)."""
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.model = model
        self.info = info
        self.max_batch = max_batch
        self.max_prefill_tokens = max_prefill_tokens
        self.clip_to_window = clip_to_window
        param = next(model.parameters())
        self.device = param.device
        config = model.config
        self.n_positions = int(config.n_positions)
        self.vocab_size = int(config.vocab_size)
        self.eos = info.eos_token_id
        on_cuda = self.device.type == "cuda"
        use_graphs = on_cuda if cuda_graphs is None else cuda_graphs and on_cuda
        buckets = batch_buckets(max_batch)
        slots = buckets[-1] if use_graphs else max_batch  # padded graph rows need slots
        weights = Gpt2Weights.from_hf(model)
        self._table = TokenBytes(tokenizer, self.vocab_size)
        self._rng = random.Random()
        self._waiting: deque[_Waiting] = deque()
        self._beams: deque[_Waiting] = deque()
        self._beam_worker = BeamWorker(model, self.eos)
        self._rows: list[Row] = []
        self._ids: set[int] = set()
        self._cancelled: set[int] = set()
        self._plan: SamplingPlan | None = None
        self.prefixes = PrefixCache(prefix_cache_bytes) if prefix_cache_bytes > 0 else None
        with torch.inference_mode():
            self._cache = SlotKvCache(
                n_layer=len(weights.blocks),
                n_head=weights.n_head,
                head_dim=weights.head_dim,
                max_slots=slots,
                max_length=self.n_positions,
                dtype=param.dtype,
                device=self.device,
                preallocate=on_cuda,
            )
            parts = cpu_parts(self.device) if weight_parts is None else weight_parts
            self._forward = Gpt2Forward(weights, self._cache, parts)
            score_dtype = torch.float64 if param.dtype == torch.float64 else torch.float32
            self._state = BatchState(slots, self.n_positions, self.vocab_size, self.device, score_dtype)
            self._graphs: DecodeGraphs | None = None
            if use_graphs:
                self._graphs = checked_graphs(
                    DecodeGraphs(
                        self._forward,
                        self._state.tokens,
                        self._state.positions,
                        buckets,
                        length_buckets(self.n_positions),
                    )
                )

    # --- the Engine protocol -----------------------------------------------------------

    def add(self, request: EngineRequest) -> None:
        if request.request_id in self._ids:
            raise ValueError(f"request id {request.request_id} is already active")
        check_request(request, self.vocab_size, self.n_positions, self.clip_to_window)
        queue = self._beams if request.params.num_beams > 1 else self._waiting
        queue.append(_Waiting(request, time.perf_counter()))
        self._ids.add(request.request_id)

    def cancel(self, request_id: int) -> None:
        if request_id in self._ids:
            self._cancelled.add(request_id)

    def active(self) -> int:
        return len(self._ids)

    @property
    def running(self) -> int:
        return len(self._rows)

    @property
    def waiting(self) -> int:
        return len(self._waiting) + len(self._beams)

    @torch.inference_mode()
    def step(self) -> StepResult:
        updates: list[EngineUpdate] = []
        failed: list[int] = []
        errors: list[Exception] = []
        self._finish_cancelled(updates)
        reused = self._admit(failed, errors)
        batch = len(self._rows)
        beams = self._beam_step(updates, failed, errors, wait_s=0.0 if batch else 0.02)
        if batch:
            try:
                chosen = self._decode(batch)
                self._collect(chosen, batch, updates)
            except Exception as exc:
                done = {u.request_id for u in updates if u.finished}
                failed.extend(r.request_id for r in self._rows if r.request_id not in done)
                self._reset()
                errors.append(exc)
        if failed:
            raise EngineStepError(tuple(failed), tuple(updates)) from errors[0]
        return StepResult(batch_size=batch + beams, updates=tuple(updates), reused_tokens=reused)

    # --- admission ---------------------------------------------------------------------

    def _admit(self, failed: list[int], errors: list[Exception]) -> int:
        """Admit what fits; returns the prompt tokens taken from the prefix cache."""
        budget, reused_total = self.max_prefill_tokens, 0
        while self._waiting and len(self._rows) < self.max_batch:
            request = self._waiting[0].request
            cost = len(request.prompt_ids)
            if cost > budget and budget < self.max_prefill_tokens:
                break  # the rest waits for the next step; one prompt always goes in
            item = self._waiting.popleft()
            budget -= cost
            slot = len(self._rows)
            prompt = request.prompt_ids
            seed = request.params.seed
            if seed is None:
                seed = self._rng.getrandbits(63)
            try:
                length = min(len(prompt) + request.params.max_new_tokens, self.n_positions)
                self._cache.reserve(slot + 1, length)
                reused = self._reuse(slot, prompt)
                reused_total += reused
                if len(prompt) - 1 > reused:
                    self._forward.prefill(slot, to_device(prompt[reused:-1], self.device), reused)
                self._state.admit(slot, prompt, request.params, seed)
            except Exception as exc:
                failed.append(request.request_id)
                errors.append(exc)
                self._ids.discard(request.request_id)
                continue
            now = time.perf_counter()
            self._rows.append(Row.start(request, self._table, seed, item.added_at, now))
            self._plan = None
        return reused_total

    def _reuse(self, slot: int, prompt: tuple[int, ...]) -> int:
        """Copy a cached prefix of `prompt[:-1]` into `slot`; how many positions it covers."""
        if self.prefixes is None or len(prompt) < 2:
            return 0
        hit = self.prefixes.take(prompt[:-1])
        if hit is None:
            return 0
        count, kv = hit
        self._cache.load(slot, kv, count)
        return count

    def _keep_prefix(self, slot: int, row: Row) -> None:
        """Store the keys/values of everything `row` fed (prompt + reply) for a later turn."""
        if self.prefixes is None:
            return
        tokens = (*row.request.prompt_ids, *row.generated)[: row.position]
        try:
            self.prefixes.put(tokens, self._cache.read(slot, row.position))
        except RuntimeError:  # out of memory for the copy: an optimisation skipped, nothing lost
            return

    def _beam_step(self, updates: list[EngineUpdate], failed: list[int], errors: list[Exception], wait_s: float) -> int:
        """Report the beam request that finished (waiting up to `wait_s` when nothing else
        runs) and start the next; returns 1 while one is being searched."""
        worker = self._beam_worker
        done = worker.poll(wait_s) if worker.running is not None else None
        if done is not None:
            self._report_beam(done, updates, failed, errors)
        if worker.running is None and self._beams:
            item = self._beams.popleft()
            worker.start(item.request, item.added_at)
        return 0 if worker.running is None else 1

    def _report_beam(
        self, done: BeamDone, updates: list[EngineUpdate], failed: list[int], errors: list[Exception]
    ) -> None:
        request = done.request
        self._ids.discard(request.request_id)
        if done.tokens is None:
            failed.append(request.request_id)
            errors.append(done.error if isinstance(done.error, Exception) else RuntimeError(str(done.error)))
            return
        row = Row.start(request, self._table, 0, done.added_at, done.started)
        delta, reason = "", None
        for token in done.tokens:
            piece, reason = row.accept(token, self.eos, self.n_positions)
            delta += piece
            if reason is not None:
                break
        updates.append(row.finish(reason or FinishReason.LENGTH, time.perf_counter(), delta))

    # --- one decode step ---------------------------------------------------------------

    def _decode(self, batch: int) -> list[int]:
        span = max(row.position for row in self._rows) + 1
        state = self._state
        if self._graphs is not None and self._graphs.covers(batch, span):
            logits = self._graphs.run(batch, span)
        else:
            logits = self._forward.decode(state.tokens[:batch], state.positions[:batch], span)
        if self._plan is None:
            self._plan = SamplingPlan.of([row.request.params for row in self._rows], self.vocab_size)
        chosen = state.choose(logits, batch, span, self._plan)
        state.advance(chosen)
        tokens: list[int] = chosen.tolist()  # the one host synchronisation of the step
        return tokens

    def _collect(self, chosen: list[int], batch: int, updates: list[EngineUpdate]) -> None:
        done: list[int] = []
        now = time.perf_counter()
        for index, (row, token) in enumerate(zip(self._rows, chosen, strict=True)):
            row.largest_batch = max(row.largest_batch, batch)
            delta, reason = row.accept(token, self.eos, self.n_positions)
            if reason is not None:
                updates.append(row.finish(reason, now, delta))
                self._keep_prefix(index, row)
                done.append(index)
            elif delta:
                updates.append(EngineUpdate(row.request_id, delta=delta))
        self._release(done)

    # --- leaving -----------------------------------------------------------------------

    def _finish_cancelled(self, updates: list[EngineUpdate]) -> None:
        if not self._cancelled:
            return
        now = time.perf_counter()
        for queue in (self._waiting, self._beams):
            for item in [w for w in queue if w.request.request_id in self._cancelled]:
                queue.remove(item)
                updates.append(cancelled_before_start(item.request, item.added_at, now))
                self._ids.discard(item.request.request_id)
        beam = self._beam_worker.running
        if beam is not None and beam.request_id in self._cancelled:  # it runs on unseen; the next waits
            updates.append(cancelled_before_start(beam, self._beam_worker.abandon(), now))
            self._ids.discard(beam.request_id)
        done = [i for i, row in enumerate(self._rows) if row.request_id in self._cancelled]
        for index in done:
            updates.append(self._rows[index].finish(FinishReason.CANCELLED, now))
        self._release(done)
        self._cancelled.clear()

    def _release(self, indices: list[int]) -> None:
        """Free finished rows' slots, moving the last rows into the holes (rows stay dense)."""
        if not indices:
            return
        gone = set(indices)
        for index in gone:
            self._ids.discard(self._rows[index].request_id)
        count = len(self._rows)
        keep = count - len(gone)
        holes = [i for i in range(keep) if i in gone]
        movers = [i for i in range(keep, count) if i not in gone]
        if holes:
            length = max(self._rows[i].position for i in movers)
            self._cache.move(to_device(movers, self.device), to_device(holes, self.device), length)
            self._state.move(movers, holes)
            for hole, mover in zip(holes, movers, strict=True):
                self._rows[hole] = self._rows[mover]
        del self._rows[keep:]
        self._state.clear(keep, count)
        self._plan = None

    def _reset(self) -> None:
        for row in self._rows:
            self._ids.discard(row.request_id)
        self._state.clear(0, len(self._rows))
        self._rows.clear()
        self._plan = None
