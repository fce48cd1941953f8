"""Host-side state of one running request: its tokens, streamed text and stop conditions."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.inference.detokenizer import TextStream, TokenBytes
from bot.inference.stops import StopScanner
from bot.inference.types import EngineRequest, EngineUpdate, FinishReason, Generation

__all__ = ["Row", "cancelled_before_start"]


def cancelled_before_start(request: EngineRequest, added_at: float, now: float) -> EngineUpdate:
    """The final update of a request cancelled while it still waited for a slot."""
    generation = Generation(
        text="",
        token_ids=(),
        finish_reason=FinishReason.CANCELLED,
        prompt_tokens=len(request.prompt_ids),
        batch_size=1,
        queued_s=now - added_at,
    )
    return EngineUpdate(request.request_id, finished=True, generation=generation)


@dataclass
class Row:
    """One request between admission and its final update."""

    request: EngineRequest
    seed: int
    added_at: float
    started_at: float
    position: int  # position of the next input token = tokens already in the KV cache
    text: TextStream
    stop: StopScanner
    generated: list[int] = field(default_factory=list)
    shown: int = 0  # characters already streamed
    largest_batch: int = 0

    @classmethod
    def start(cls, request: EngineRequest, table: TokenBytes, seed: int, added_at: float, now: float) -> Row:
        return cls(
            request=request,
            seed=seed,
            added_at=added_at,
            started_at=now,
            position=len(request.prompt_ids) - 1,
            text=TextStream(table),
            stop=StopScanner(request.stop_pattern),
        )

    @property
    def request_id(self) -> int:
        return self.request.request_id

    def accept(self, token: int, eos: int, n_positions: int) -> tuple[str, FinishReason | None]:
        """Take the token chosen this step; returns the newly visible text and, when the
        request is done, why. Finished rows still need `finish()`."""
        self.position += 1
        if token == eos:
            return "", FinishReason.EOS
        self.generated.append(token)
        self.text.push(token)
        safe = self.stop.scan(self.text.text)
        delta = self.text.text[self.shown : safe]
        self.shown = safe
        if self.stop.cut is not None:
            return delta, FinishReason.STOP
        if len(self.generated) >= self.request.params.max_new_tokens:
            return delta, FinishReason.LENGTH
        if self.position + 1 >= n_positions:  # the sequence fills the window
            return delta, FinishReason.WINDOW
        return delta, None

    def finish(self, reason: FinishReason, now: float, delta: str = "") -> EngineUpdate:
        """The final update: releases held-back text (unless a stop match cut it)."""
        if self.stop.cut is None:
            self.text.finish()
            self.stop.scan(self.text.text)
        text = self.text.text
        ids = tuple(self.generated)
        if self.stop.cut is not None:
            reason = FinishReason.STOP
            text = text[: self.stop.cut]
            ids = self.text.tokens_before(self.generated, self.stop.cut)
        delta += text[self.shown :]
        self.shown = len(text)
        generation = Generation(
            text=text,
            token_ids=ids,
            finish_reason=reason,
            prompt_tokens=len(self.request.prompt_ids),
            batch_size=max(self.largest_batch, 1),
            queued_s=self.started_at - self.added_at,
            generated_s=now - self.started_at,
        )
        return EngineUpdate(self.request_id, delta=delta, finished=True, generation=generation)
