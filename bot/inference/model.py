"""Load the configured GPT-2: a hub id, a local `save_pretrained` directory, or `demo`.

Everything goes through transformers' real `from_pretrained`. A model that cannot be
loaded raises `ModelLoadError` naming the model, the reason and the fix. Hub ids are
tried from the local cache first, and the network is only tried when the hub answers a
quick connection, so an offline machine fails in seconds instead of retrying for half a
minute.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerBase

from bot.errors import ModelLoadError
from bot.inference.tokenizer import load_tokenizer
from bot.inference.types import ModelInfo

__all__ = [
    "DEMO_MODEL",
    "HUB_MODELS",
    "LoadedModel",
    "build_demo_model",
    "load_model",
    "resolve_device",
    "resolve_dtype",
]

log = logging.getLogger(__name__)

DEMO_MODEL = "demo"
HUB_MODELS = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "distilgpt2")
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_FIX = (
    "point model.name at a local directory written by save_pretrained, download the model once on a "
    "connected machine (the Hugging Face cache is reused; HF_HUB_OFFLINE=1 keeps it offline), or set "
    'model.name = "demo" to try the bot with random weights'
)


@dataclass(frozen=True)
class LoadedModel:
    model: GPT2LMHeadModel
    tokenizer: PreTrainedTokenizerBase
    info: ModelInfo


def resolve_device(setting: str) -> torch.device:
    """`auto` picks cuda, then mps, then cpu."""
    if setting != "auto":
        return torch.device(setting)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_dtype(setting: str, device: torch.device) -> torch.dtype:
    """`auto` is float16 on a GPU and float32 on the CPU."""
    if setting != "auto":
        return _DTYPES[setting]
    return torch.float32 if device.type == "cpu" else torch.float16


def build_demo_model(seed: int = 0) -> GPT2LMHeadModel:
    """A small GPT-2 with random weights and GPT-2's full vocab: its replies are noise."""
    config = GPT2Config(n_positions=1024, n_embd=128, n_layer=2, n_head=4)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(config)
    return model


def load_model(name: str, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """Load `name` onto the resolved device and dtype, with its tokenizer."""
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    model_dir: Path | None = None
    if name == DEMO_MODEL:
        model = build_demo_model()
    elif Path(name).expanduser().is_dir():
        model_dir = Path(name).expanduser()
        model = _from_pretrained(name, str(model_dir), local_only=True)
    elif Path(name).expanduser().exists() or name.startswith((".", "/", "~")):
        raise ModelLoadError(name, "the path is not a directory written by save_pretrained", _FIX)
    else:
        model = _from_hub(name)
    tokenizer = load_tokenizer(model_dir)
    if model.config.model_type != "gpt2":
        raise ModelLoadError(name, f"it is a {model.config.model_type!r} model, not GPT-2", _FIX)
    model.to(device=torch_device, dtype=torch_dtype)  # type: ignore[call-arg]  # in place for nn.Module
    model.eval()
    info = ModelInfo(
        name=name,
        device=str(torch_device),
        dtype=str(torch_dtype).removeprefix("torch."),
        n_positions=int(model.config.n_positions),
        n_params=sum(p.numel() for p in model.parameters()),
        eos_token_id=_eos_id(model.config.eos_token_id),
        is_demo=name == DEMO_MODEL,
    )
    log.info("model %s loaded: %s, %s, %.1fM parameters", name, info.device, info.dtype, info.n_params / 1e6)
    return LoadedModel(model=model, tokenizer=tokenizer, info=info)


def _eos_id(configured: int | list[int] | None) -> int:
    if isinstance(configured, list):
        return configured[0]
    return 50256 if configured is None else configured


def _from_hub(name: str) -> GPT2LMHeadModel:
    try:
        return _from_pretrained(name, name, local_only=True)
    except ModelLoadError as exc:
        if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
            reason = "it is not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
            raise ModelLoadError(name, reason, _FIX) from exc
        if not _hub_reachable():
            reason = "it is not in the local Hugging Face cache and the hub cannot be reached"
            raise ModelLoadError(name, reason, _FIX) from exc
    log.info("downloading %s from the Hugging Face hub", name)
    return _from_pretrained(name, name, local_only=False)


def _from_pretrained(name: str, source: str, *, local_only: bool) -> GPT2LMHeadModel:
    try:
        model = GPT2LMHeadModel.from_pretrained(source, local_files_only=local_only)
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(name, reason, _FIX) from exc
    if not isinstance(model, GPT2LMHeadModel):
        raise ModelLoadError(name, f"loaded a {type(model).__name__}, not a GPT-2 language model", _FIX)
    return model


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
