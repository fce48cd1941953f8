"""bench/gpu_check.py, the engine's correctness check for a lent GPU, run here on the CPU so it
cannot rot between the sessions that have a GPU: it passes on the real engine and reports a
broken one."""

from __future__ import annotations

import pytest
import torch

from bot.inference.gpt2 import Gpt2Forward
from bot.inference.tokenizer import packaged_tokenizer
from tests.bench_scripts import load_bench
from tests.engine_kit import one_thread  # noqa: F401  (autouse fixture)

gpu_check = load_bench("gpu_check")


def test_passes_on_the_engine(capsys: pytest.CaptureFixture[str]) -> None:
    assert gpu_check.main(["--device", "cpu", "--dtypes", "float32,bfloat16"]) == 0
    assert capsys.readouterr().out.splitlines() == ["cpu float32: ok", "cpu bfloat16: ok"]


def test_reports_wrong_logits(monkeypatch: pytest.MonkeyPatch) -> None:
    decode = Gpt2Forward.decode

    def skewed(self: Gpt2Forward, tokens: torch.Tensor, positions: torch.Tensor, length: int) -> torch.Tensor:
        logits = decode(self, tokens, positions, length)
        if length > 130:  # only once a row crosses the first attention-span bucket
            logits[:, 7] += 100.0
        return logits

    monkeypatch.setattr(Gpt2Forward, "decode", skewed)
    failures = gpu_check.check(torch.device("cpu"), torch.float32, packaged_tokenizer())
    assert any("request 1 differs" in failure for failure in failures)
