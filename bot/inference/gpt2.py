"""A lean GPT-2 forward over the weights of a Hugging Face `GPT2LMHeadModel`.

Two entry points, both writing into a `SlotKvCache`:

* `prefill(slot, ids)` fills positions `0..P-1` of one slot (no logits: the engine feeds the
  prompt's last token through `decode`, so every row of a step is sampled together);
* `decode(tokens, positions, length)` runs one token for each of the rows `0..B-1` at its own
  position, attending over that row's first `position + 1` cache entries, and returns logits.

The math is HF's (pre-LayerNorm blocks, Conv1D weights stored `[in, out]`, `gelu_new`, LM head
tied to `wte`); only the kernel count differs. `decode` does no host synchronisation and no
data-dependent shapes, so it can be captured in a CUDA graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from transformers import GPT2LMHeadModel

from bot.inference.kvcache import SlotKvCache
from bot.inference.linear import Affine

__all__ = ["Gpt2Block", "Gpt2Forward", "Gpt2Weights"]

Activation = Callable[[torch.Tensor], torch.Tensor]


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


_ACTIVATIONS: dict[str, Activation] = {
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "gelu": F.gelu,
    "relu": F.relu,
}


@dataclass(frozen=True)
class Gpt2Block:
    ln1_w: torch.Tensor
    ln1_b: torch.Tensor
    attn_w: torch.Tensor  # [d, 3d]
    attn_b: torch.Tensor
    proj_w: torch.Tensor  # [d, d]
    proj_b: torch.Tensor
    ln2_w: torch.Tensor
    ln2_b: torch.Tensor
    fc_w: torch.Tensor  # [d, inner]
    fc_b: torch.Tensor
    out_w: torch.Tensor  # [inner, d]
    out_b: torch.Tensor
    scale: float  # attention score scale


@dataclass(frozen=True)
class Gpt2Weights:
    """References to an HF model's parameters (no copies, except an optional LM-head layout)."""

    wte: torch.Tensor
    wpe: torch.Tensor
    blocks: tuple[Gpt2Block, ...]
    lnf_w: torch.Tensor
    lnf_b: torch.Tensor
    lm_head: torch.Tensor  # [V, d], or [d, V] when `lm_head_transposed`
    lm_head_transposed: bool
    eps: float
    n_head: int
    activation: str

    @property
    def n_embd(self) -> int:
        return int(self.wte.shape[1])

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def vocab_size(self) -> int:
        return int(self.wte.shape[0])

    @property
    def n_positions(self) -> int:
        return int(self.wpe.shape[0])

    @classmethod
    def from_hf(cls, model: GPT2LMHeadModel, transpose_lm_head: bool | None = None) -> Gpt2Weights:
        """Wrap a `GPT2LMHeadModel`. `transpose_lm_head` (default: on CPU) keeps a `[d, V]` copy
        of the LM head, which MKL reads about 1.7x faster at batch 1 than the `[V, d]` view."""
        config = model.config
        if getattr(config, "add_cross_attention", False):
            raise ValueError("GPT-2 with cross-attention is not supported by the engine")
        if config.activation_function not in _ACTIVATIONS:
            raise ValueError(f"unsupported activation {config.activation_function!r}")
        transformer = model.transformer
        head_dim = config.n_embd // config.n_head
        blocks = []
        layers: list[Any] = list(transformer.h)  # GPT2Block modules
        for index, layer in enumerate(layers):
            scale = head_dim**-0.5 if config.scale_attn_weights else 1.0
            if config.scale_attn_by_inverse_layer_idx:
                scale /= float(index + 1)
            blocks.append(
                Gpt2Block(
                    ln1_w=layer.ln_1.weight.detach(),
                    ln1_b=layer.ln_1.bias.detach(),
                    attn_w=layer.attn.c_attn.weight.detach(),
                    attn_b=layer.attn.c_attn.bias.detach(),
                    proj_w=layer.attn.c_proj.weight.detach(),
                    proj_b=layer.attn.c_proj.bias.detach(),
                    ln2_w=layer.ln_2.weight.detach(),
                    ln2_b=layer.ln_2.bias.detach(),
                    fc_w=layer.mlp.c_fc.weight.detach(),
                    fc_b=layer.mlp.c_fc.bias.detach(),
                    out_w=layer.mlp.c_proj.weight.detach(),
                    out_b=layer.mlp.c_proj.bias.detach(),
                    scale=scale,
                )
            )
        lm_head = model.lm_head.weight.detach()
        if transpose_lm_head is None:
            transpose_lm_head = lm_head.device.type == "cpu"
        if transpose_lm_head:
            lm_head = lm_head.t().contiguous()
        return cls(
            wte=transformer.wte.weight.detach(),
            wpe=transformer.wpe.weight.detach(),
            blocks=tuple(blocks),
            lnf_w=transformer.ln_f.weight.detach(),
            lnf_b=transformer.ln_f.bias.detach(),
            lm_head=lm_head,
            lm_head_transposed=transpose_lm_head,
            eps=float(config.layer_norm_epsilon),
            n_head=int(config.n_head),
            activation=str(config.activation_function),
        )


@dataclass(frozen=True)
class _BlockMaps:
    """The affine maps of one block, split for the device (`Affine`)."""

    qkv: Affine
    kv: Affine  # the key/value columns of `qkv` alone (the last block's prefill)
    proj: Affine
    fc: Affine
    out: Affine

    @classmethod
    def of(cls, block: Gpt2Block, d: int, parts: int) -> _BlockMaps:
        return cls(
            qkv=Affine(block.attn_w, block.attn_b, parts),
            kv=Affine(block.attn_w[:, d:], block.attn_b[d:], parts),
            proj=Affine(block.proj_w, block.proj_b, parts),
            fc=Affine(block.fc_w, block.fc_b, parts),
            out=Affine(block.out_w, block.out_b, parts),
        )


class Gpt2Forward:
    """GPT-2 prefill and batched decode over a slot KV cache.

    `parts` splits every weight product into that many column blocks run in parallel
    (`bot.inference.linear`; `cpu_parts(device)` picks it): results are the same for any value.
    """

    def __init__(self, weights: Gpt2Weights, cache: SlotKvCache, parts: int = 1) -> None:
        self.w = weights
        self.cache = cache
        self._act = _ACTIVATIONS[weights.activation]
        self._maps = tuple(_BlockMaps.of(block, weights.n_embd, parts) for block in weights.blocks)
        self._head = Affine(weights.lm_head, None, parts) if weights.lm_head_transposed else None

    def _norm(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (x.shape[-1],), weight, bias, self.w.eps)

    def _mlp(self, x: torch.Tensor, block: Gpt2Block, maps: _BlockMaps) -> torch.Tensor:
        h = self._norm(x, block.ln2_w, block.ln2_b)
        return x + maps.out(self._act(maps.fc(h)))

    def prefill(self, slot: int, ids: torch.Tensor, start: int = 0) -> None:
        """Write keys/values of `ids` ([P] token ids) at positions `start..start+P-1` of `slot`;
        positions `0..start-1` must already hold this sequence's keys/values (a reused prefix)."""
        count = int(ids.shape[0])
        if count == 0:
            return
        d, heads, hd = self.w.n_embd, self.w.n_head, self.w.head_dim
        end = start + count
        x = F.embedding(ids, self.w.wte) + self.w.wpe[start:end]
        # with a prefix, token i (position start+i) sees positions 0..start+i
        mask = None
        if start:
            seen = torch.arange(end, device=ids.device)
            mask = seen.unsqueeze(0) <= torch.arange(start, end, device=ids.device).unsqueeze(1)
        last = len(self.w.blocks) - 1
        for index, (block, maps) in enumerate(zip(self.w.blocks, self._maps, strict=True)):
            h = self._norm(x, block.ln1_w, block.ln1_b)
            if index == last:  # the last block's output is never read: keys/values suffice
                kv = maps.kv(h)
                k, v = kv.view(count, 2, heads, hd).permute(1, 2, 0, 3).unbind(0)
                self.cache.write_prompt(index, slot, k, v, start)
                break
            qkv = maps.qkv(h)
            # 4-D [1, H, P, hd] views: SDPA's fused CPU kernel takes them (3-D falls back)
            q, k, v = qkv.view(1, count, 3, heads, hd).permute(2, 0, 3, 1, 4).unbind(0)
            self.cache.write_prompt(index, slot, k[0], v[0], start)
            if mask is None:
                attn = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=block.scale)
            else:
                layer = self.cache.layer(index)
                keys, values = layer[0, slot, :, :end].unsqueeze(0), layer[1, slot, :, :end].unsqueeze(0)
                attn = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, scale=block.scale)
            attn = attn[0].transpose(0, 1).reshape(count, d)
            x = x + maps.proj(attn)
            x = self._mlp(x, block, maps)

    def decode(self, tokens: torch.Tensor, positions: torch.Tensor, length: int) -> torch.Tensor:
        """Logits `[B, V]` for `tokens[i]` at `positions[i]` in slot `i`, for `i < B`.

        `length` bounds the attention span: every `positions[i]` must be `< length`.
        """
        batch = int(tokens.shape[0])
        d, heads, hd = self.w.n_embd, self.w.n_head, self.w.head_dim
        device = tokens.device
        x = F.embedding(tokens, self.w.wte) + F.embedding(positions, self.w.wpe)
        # Additive mask: row i sees cache positions 0..positions[i]; shared by all layers.
        span = torch.arange(length, device=device)
        visible = span.unsqueeze(0) <= positions.unsqueeze(1)
        mask = torch.zeros(visible.shape, dtype=x.dtype, device=device)
        mask = mask.masked_fill(~visible, float("-inf"))
        mask = mask.unsqueeze(1).expand(batch, heads, length).reshape(batch * heads, 1, length)
        # Index tuple for writing this step's keys/values: (k|v, slot, head, position).
        kv_sel = torch.arange(2, device=device).view(2, 1, 1)
        rows = torch.arange(batch, device=device).view(1, batch, 1)
        head_sel = torch.arange(heads, device=device).view(1, 1, heads)
        pos_sel = positions.view(1, batch, 1)
        for index, (block, maps) in enumerate(zip(self.w.blocks, self._maps, strict=True)):
            h = self._norm(x, block.ln1_w, block.ln1_b)
            qkv = maps.qkv(h)
            kv_new = qkv[:, d:].view(batch, 2, heads, hd).transpose(0, 1)
            layer = self.cache.layer(index)
            layer.index_put_((kv_sel, rows, head_sel, pos_sel), kv_new)
            keys = layer[0, :batch, :, :length].reshape(batch * heads, length, hd)
            values = layer[1, :batch, :, :length].reshape(batch * heads, length, hd)
            q = qkv[:, :d].reshape(batch * heads, 1, hd)
            scores = torch.baddbmm(mask, q, keys.transpose(1, 2), alpha=block.scale)
            probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(values.dtype)
            attn = torch.bmm(probs, values).view(batch, d)
            x = x + maps.proj(attn)
            x = self._mlp(x, block, maps)
        h = self._norm(x, self.w.lnf_w, self.w.lnf_b)
        if self._head is not None:
            return self._head(h)
        return F.linear(h, self.w.lm_head)
