"""What a request must satisfy before the engine accepts it (`add()` raises ValueError)."""

from __future__ import annotations

from bot.inference.stops import compile_stop
from bot.inference.types import EngineRequest

__all__ = ["check_request"]


def check_request(request: EngineRequest, vocab_size: int, n_positions: int, clip_to_window: bool) -> None:
    """Raise ValueError naming every problem: empty or out-of-vocabulary prompt, settings out
    of range, a bad stop pattern, or prompt + max_new_tokens beyond the window (allowed with
    `clip_to_window` when at least one token fits; the reply then ends with WINDOW)."""
    p, prompt = request.params, request.prompt_ids
    problems = []
    if not prompt:
        problems.append("the prompt is empty")
    elif min(prompt) < 0 or max(prompt) >= vocab_size:
        problems.append(f"prompt token ids must be in [0, {vocab_size})")
    if p.max_new_tokens < 1:
        problems.append("max_new_tokens must be at least 1")
    if p.num_beams < 1 or p.top_k < 0 or p.no_repeat_ngram_size < 0:
        problems.append("num_beams >= 1, top_k >= 0 and no_repeat_ngram_size >= 0 required")
    if not 0.0 < p.top_p <= 1.0 or p.temperature < 0 or p.repetition_penalty <= 0:
        problems.append("need 0 < top_p <= 1, temperature >= 0, repetition_penalty > 0")
    fits = len(prompt) + p.max_new_tokens <= n_positions
    clip = clip_to_window and p.num_beams == 1 and len(prompt) < n_positions
    if not fits and not clip:
        problems.append(
            f"prompt ({len(prompt)} tokens) + max_new_tokens ({p.max_new_tokens}) "
            f"exceeds the {n_positions}-position window"
        )
    if problems:
        raise ValueError("; ".join(problems))
    if request.stop_pattern:
        compile_stop(request.stop_pattern)
