"""A scripted `Engine` for queue tests: one word per step, no model."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from bot.inference.types import (
    EngineRequest,
    EngineStepError,
    EngineUpdate,
    FinishReason,
    Generation,
    ModelInfo,
    StepResult,
)


@dataclass
class _Row:
    request: EngineRequest
    steps: int = 0


INFO = ModelInfo("scripted", "cpu", "float32", 1024, 0, 50256)


class ScriptedEngine:
    """Each request finishes after `steps` steps with text "reply <request id>"."""

    def __init__(self, max_batch: int = 4, steps: int = 3, step_s: float = 0.0) -> None:
        self.info = INFO
        self.max_batch = max_batch
        self.steps = steps
        self.step_s = step_s
        self.batch_sizes: list[int] = []
        self.admitted: list[EngineRequest] = []
        self.fail_next_step = False
        self.fail_request: int | None = None  # the next step drops this request (EngineStepError)
        self.gate = threading.Event()  # cleared: steps block until set (to hold requests in flight)
        self.gate.set()
        self._rows: dict[int, _Row] = {}
        self._cancelled: set[int] = set()

    def add(self, request: EngineRequest) -> None:
        if len(request.prompt_ids) + request.params.max_new_tokens > self.info.n_positions:
            raise ValueError("prompt too long")
        self.admitted.append(request)
        self._rows[request.request_id] = _Row(request)

    def cancel(self, request_id: int) -> None:
        self._cancelled.add(request_id)

    def active(self) -> int:
        return len(self._rows)

    def step(self) -> StepResult:
        self.gate.wait(timeout=10)
        if self.fail_next_step:
            self.fail_next_step = False
            raise RuntimeError("simulated CUDA error")
        if self.step_s:
            time.sleep(self.step_s)
        size = len(self._rows)
        self.batch_sizes.append(size)
        updates: list[EngineUpdate] = []
        failed = self.fail_request
        if failed is not None and failed in self._rows:
            del self._rows[failed]
        for request_id, row in list(self._rows.items()):
            row.steps += 1
            if request_id in self._cancelled:
                reason = FinishReason.CANCELLED
            elif row.steps >= self.steps:
                reason = FinishReason.LENGTH
            else:
                continue
            del self._rows[request_id]
            self._cancelled.discard(request_id)
            prompt = len(row.request.prompt_ids)
            gen = Generation(f"reply {request_id}", (1,) * row.steps, reason, prompt, size)
            updates.append(EngineUpdate(request_id, finished=True, generation=gen))
        if failed is not None:
            self.fail_request = None
            raise EngineStepError((failed,), tuple(updates))
        return StepResult(size, tuple(updates))
