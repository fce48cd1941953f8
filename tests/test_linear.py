"""`Affine` (column-split weight products) against a plain `addmm`, for every split."""

from __future__ import annotations

import pytest
import torch

from bot.inference.linear import Affine, cpu_parts


@pytest.mark.parametrize("parts", [1, 2, 3, 4, 5, 8])
@pytest.mark.parametrize("rows", [1, 3, 7, 65])  # 65: beyond SPLIT_MAX_ROWS, one product
def test_equals_addmm_for_any_split(parts: int, rows: int) -> None:
    torch.manual_seed(parts * 10 + rows)
    weight = torch.randn(24, 70, dtype=torch.float64)  # 70 is not a multiple of 3, 4, 8
    bias = torch.randn(70, dtype=torch.float64)
    x = torch.randn(rows, 24, dtype=torch.float64)
    torch.testing.assert_close(Affine(weight, bias, parts)(x), torch.addmm(bias, x, weight), atol=1e-12, rtol=0)
    torch.testing.assert_close(Affine(weight, None, parts)(x), x @ weight, atol=1e-12, rtol=0)


def test_column_slices_of_a_wider_weight() -> None:
    """The last block's prefill uses the key/value columns of the fused QKV weight."""
    torch.manual_seed(0)
    weight = torch.randn(16, 48)
    bias = torch.randn(48)
    x = torch.randn(5, 16)
    got = Affine(weight[:, 16:], bias[16:], 2)(x)
    torch.testing.assert_close(got, torch.addmm(bias[16:], x, weight[:, 16:]))


def test_more_parts_than_columns_falls_back_to_one_product() -> None:
    weight, x = torch.randn(4, 3), torch.randn(2, 4)
    torch.testing.assert_close(Affine(weight, None, 8)(x), x @ weight)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="parts must be at least 1"):
        Affine(torch.zeros(2, 2), None, 0)
    with pytest.raises(ValueError, match=r"weight must be \[in, out\]"):
        Affine(torch.zeros(2), None, 1)


def test_parts_follow_the_cpu_threads() -> None:
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        assert cpu_parts(torch.device("cpu")) == 3
    finally:
        torch.set_num_threads(threads)
    assert cpu_parts(torch.device("cuda")) == 1
