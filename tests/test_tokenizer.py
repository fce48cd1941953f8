"""GPT-2's tokenizer offline: the packaged vocab is OpenAI's exact files; model directories win."""

from __future__ import annotations

import hashlib
from importlib.resources import files
from pathlib import Path

import pytest
from transformers import PreTrainedTokenizerBase

from bot.inference import tokenizer as tokenizer_module
from bot.inference.tokenizer import load_tokenizer, packaged_tokenizer, vocab_file

# The hashes tiktoken pins for OpenAI's gpt2 encoder.json (= vocab.json) / vocab.bpe (= merges.txt),
# written out here rather than read from the module, so a changed constant cannot pass unnoticed.
ENCODER_SHA256 = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
VOCAB_BPE_SHA256 = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"


def test_packaged_files_are_gpt2s_exact_vocab() -> None:
    data = files("bot.inference") / "data"
    assert hashlib.sha256((data / "vocab.json").read_bytes()).hexdigest() == ENCODER_SHA256
    assert hashlib.sha256((data / "merges.txt").read_bytes()).hexdigest() == VOCAB_BPE_SHA256
    assert (data / "LICENSE.gpt2").read_text().count("Copyright (c) 2019 OpenAI") == 1


def test_a_damaged_vocab_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tokenizer_module.VOCAB_SHA256, "merges.txt", "0" * 64)
    with pytest.raises(RuntimeError, match=r"merges\.txt is damaged"):
        vocab_file("merges.txt")
    with pytest.raises(RuntimeError, match="reinstall gpt2bot"):
        packaged_tokenizer()


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
