"""Model loading through the real from_pretrained path, offline."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from bot.errors import ModelLoadError
from bot.inference.model import build_demo_model, load_model, resolve_device, resolve_dtype
from tests.conftest import make_tiny_gpt2


def test_local_directory_loads_through_from_pretrained(tiny_model_dir: Path) -> None:
    loaded = load_model(str(tiny_model_dir), device="cpu", dtype="auto")
    assert loaded.info.name == str(tiny_model_dir) and not loaded.info.is_demo
    assert (loaded.info.device, loaded.info.dtype, loaded.info.n_positions) == ("cpu", "float32", 1024)
    reference = make_tiny_gpt2()
    ids = torch.tensor([[464, 3290, 373]])
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(ids).logits, reference(ids).logits)
    assert loaded.tokenizer.encode("Hello world") == [15496, 995]


def test_demo_model_announces_itself() -> None:
    loaded = load_model("demo", device="cpu")
    assert loaded.info.is_demo and loaded.info.n_positions == 1024
    assert loaded.model.config.vocab_size == 50257
    first = build_demo_model()
    torch.testing.assert_close(first.transformer.wte.weight, build_demo_model().transformer.wte.weight)


def test_unreachable_hub_model_fails_fast_naming_model_reason_and_fix(no_hub: None) -> None:
    started = time.monotonic()
    with pytest.raises(ModelLoadError) as info:
        load_model("gpt2-medium")
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert "gpt2-medium" in message and "HF_HUB_OFFLINE" in message and "demo" in message
    assert "save_pretrained" in message


def test_a_path_that_is_not_a_model_directory(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"nope")
    with pytest.raises(ModelLoadError, match="not a directory"):
        load_model(str(tmp_path / "weights.bin"))
    with pytest.raises(ModelLoadError) as info:
        load_model(str(tmp_path))  # a directory without config.json
    assert str(tmp_path) in str(info.value)


def test_device_and_dtype_resolution() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    assert resolve_dtype("auto", torch.device("cuda")) == torch.float16
    assert resolve_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16
