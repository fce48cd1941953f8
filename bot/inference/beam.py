"""Beam search for one request, outside the continuous batch, with `transformers` `generate`.

Beam search multiplies compute by `num_beams` and its rows depend on each other, so it runs
alone (HF's own implementation, the reference the tests compare with). The stop pattern is
applied to the result afterwards.
"""

from __future__ import annotations

import torch
from transformers import GenerationConfig, GPT2LMHeadModel

from bot.inference.types import SamplingParams

__all__ = ["beam_search"]


def beam_search(
    model: GPT2LMHeadModel, prompt_ids: tuple[int, ...], params: SamplingParams, eos_token_id: int
) -> list[int]:
    """Generated token ids of the best beam (ending with EOS if the model emitted it)."""
    config = GenerationConfig(
        num_beams=params.num_beams,
        do_sample=False,
        max_new_tokens=params.max_new_tokens,
        repetition_penalty=params.repetition_penalty,
        no_repeat_ngram_size=params.no_repeat_ngram_size,
        eos_token_id=eos_token_id,
        pad_token_id=eos_token_id,
    )
    device = next(model.parameters()).device
    ids = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config)
    generated: list[int] = out[0, len(prompt_ids) :].tolist()
    if eos_token_id in generated:  # drop padding after an early EOS
        generated = generated[: generated.index(eos_token_id) + 1]
    return generated
