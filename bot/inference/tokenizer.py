"""The GPT-2 tokenizer: from the model's own files, else GPT-2's exact vocab shipped in this package.

`data/vocab.json` and `data/merges.txt` are byte for byte OpenAI's GPT-2 `encoder.json` and
`vocab.bpe` (license: `data/LICENSE.gpt2`), so no hub access is ever needed. Their sha256 is
checked before use: a damaged install fails with a clear error instead of tokenizing wrongly.
"""

from __future__ import annotations

import hashlib
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path

from transformers import GPT2TokenizerFast, PreTrainedTokenizerBase  # type: ignore[attr-defined]

__all__ = ["EOS_TOKEN", "VOCAB_SHA256", "load_tokenizer", "packaged_tokenizer", "vocab_file"]

EOS_TOKEN = "<|endoftext|>"
# The hashes tiktoken pins for OpenAI's gpt2 encoder.json / vocab.bpe.
VOCAB_SHA256 = {
    "vocab.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "merges.txt": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}
_PROBE = ("Hello world", [15496, 995])  # GPT-2's own ids; an empty or foreign vocab fails this


def vocab_file(name: str) -> Traversable:
    """One of the packaged GPT-2 files (`vocab.json` or `merges.txt`), checked against its sha256."""
    resource = files("bot.inference") / "data" / name
    digest = hashlib.sha256(resource.read_bytes()).hexdigest()
    if digest != VOCAB_SHA256[name]:
        raise RuntimeError(f"packaged GPT-2 file {name} is damaged (sha256 {digest}); reinstall gpt2bot")
    return resource


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
    """GPT-2's tokenizer built from the packaged files, verified."""
    with as_file(vocab_file("vocab.json")) as vocab, as_file(vocab_file("merges.txt")) as merges:
        # transformers 5.x: `vocab=`/`merges=` (the old `vocab_file=` names build an EMPTY tokenizer).
        tokenizer = GPT2TokenizerFast(vocab=str(vocab), merges=str(merges))
    text, ids = _PROBE
    if tokenizer.encode(text) != ids:
        raise RuntimeError(f"packaged GPT-2 vocab is broken: {text!r} -> {tokenizer.encode(text)}")
    return tokenizer


def _has_tokenizer_files(model_dir: Path) -> bool:
    return (model_dir / "tokenizer.json").is_file() or (
        (model_dir / "vocab.json").is_file() and (model_dir / "merges.txt").is_file()
    )
