"""Start-up check of a remote server, and the `RemoteGenerator` built from what it found.

`GET /v1/models` must answer and list the model (its `max_model_len`, where vLLM gives it,
is the window); then one 1-token completion carrying every setting the server's dialect maps
tells which fields it turns down, and whether it takes token-id prompts. Whatever is wrong
becomes one `ConfigError` line naming the key to change: `python -m bot` prints it and
exits 2, like any other operator mistake.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import openai
from openai import AsyncOpenAI, Timeout
from transformers import PreTrainedTokenizerBase

from bot import messages
from bot.config import InferenceSection
from bot.errors import ConfigError
from bot.inference.dialects import Wire, detect
from bot.inference.remote import RemoteGenerator, RemoteServer, describe
from bot.inference.tokenizer import load_tokenizer
from bot.inference.types import ModelInfo, SamplingParams

__all__ = ["GPT2_WINDOW", "check_server", "open_remote", "remote_tokenizer"]

log = logging.getLogger(__name__)

GPT2_WINDOW = 1024  # the window when the server does not say
_PROBE = SamplingParams(
    temperature=0.7,
    top_k=5,
    top_p=0.9,
    repetition_penalty=1.1,
    no_repeat_ngram_size=2,
    num_beams=1,
    max_new_tokens=1,
    do_sample=True,
    seed=1,
)  # every field the bot may send, at values any server accepts
_HELLO = (15496,)  # "Hello"
_EOS = 50256


def remote_tokenizer(model_name: str) -> PreTrainedTokenizerBase:
    """The GPT-2 tokenizer for trimming: the model directory's files when `model.name` is one, else GPT-2's."""
    path = Path(model_name).expanduser()
    return load_tokenizer(path if path.is_dir() else None)


async def open_remote(
    section: InferenceSection, tokenizer: PreTrainedTokenizerBase, environ: Mapping[str, str]
) -> RemoteGenerator:
    """Check the server, then a generator for it (raises `ConfigError` in one line)."""
    client = AsyncOpenAI(
        base_url=section.base_url,
        api_key=environ.get(section.api_key_env) or "none",  # servers without auth ignore it
        timeout=Timeout(section.read_timeout_s, connect=section.connect_timeout_s),
        max_retries=section.max_retries,
    )
    try:
        server = await check_server(client.with_options(max_retries=0), section)
    except BaseException:
        await client.close()
        raise
    info = ModelInfo(server.model, "remote", "remote", server.n_positions, 0, int(tokenizer.eos_token_id))
    not_applied = server.wire.not_applied()
    log.info(messages.remote_ready(server.wire.dialect.name, server.base_url, server.model, server.n_positions))
    if not_applied:
        log.warning(messages.remote_unsupported(server.wire.dialect.name, not_applied))
    return RemoteGenerator(
        client,
        server,
        tokenizer,
        info,
        max_in_flight=section.max_in_flight,
        max_queue=section.max_queue,
        timeout_s=section.timeout_s,
    )


async def check_server(client: AsyncOpenAI, section: InferenceSection) -> RemoteServer:
    url = section.base_url
    try:
        listed = [m.model_dump() for m in (await client.models.list()).data]
    except openai.AuthenticationError:
        raise ConfigError(
            "inference.api_key_env", section.api_key_env, f"{url} refused the key (401): set it in the environment"
        ) from None
    except openai.APIError as exc:
        raise ConfigError("inference.base_url", url, f"GET /models failed: {describe(exc)}") from None
    entry = _pick(listed, section.remote_model, url)
    model = str(entry["id"])
    kind = section.server if section.server != "auto" else detect(entry)
    window = entry.get("max_model_len")
    n_positions = window if isinstance(window, int) and window > 0 else GPT2_WINDOW
    wire = await _probe(client, model, Wire.of(kind), url)
    return RemoteServer(url, model, wire, n_positions)


def _pick(listed: list[dict[str, object]], wanted: str, url: str) -> dict[str, object]:
    names = [str(m.get("id")) for m in listed]
    if wanted:
        for entry in listed:
            if entry.get("id") == wanted:
                return entry
        raise ConfigError("inference.remote_model", wanted, f"{url} does not serve it; it serves: {_names(names)}")
    if len(listed) != 1:
        raise ConfigError("inference.remote_model", wanted, f"{url} serves {_names(names)}: name the one to use")
    return listed[0]


async def _probe(client: AsyncOpenAI, model: str, wire: Wire, url: str) -> Wire:
    """Send every field the dialect maps; on a 4xx, find what the server turns down: token-id
    prompts, then the settings the error names, else each setting on its own."""
    started = time.monotonic()
    error = await _try(client, model, wire, url)
    if error is not None:
        wire = await _prompt_form(client, model, wire, url)
        error = await _try(client, model, wire, url)
    if error is not None:
        wire = wire.without(wire.named_in(error))
        if not wire.named_in(error) or await _try(client, model, wire, url) is not None:
            for setting in wire.applied():
                alone = wire.without(frozenset(wire.applied()) - {setting})
                if await _try(client, model, alone, url) is not None:
                    wire = wire.without(frozenset({setting}))
    log.info("checked %s in %.2f s: %s", url, time.monotonic() - started, wire.describe())
    return wire


async def _prompt_form(client: AsyncOpenAI, model: str, wire: Wire, url: str) -> Wire:
    """The wire whose bare request (no extra settings) succeeds: token ids if taken, else text."""
    bare = wire.without(frozenset(wire.applied()))
    error = await _try(client, model, bare, url)
    if error is None:
        return wire
    if wire.token_prompts:
        as_text = replace(wire, token_prompts=False)
        if await _try(client, model, replace(bare, token_prompts=False), url) is None:
            log.info("%s does not take token-id prompts (%s): sending text", url, error)
            return as_text
    raise ConfigError("inference.base_url", url, f"POST /completions for {model!r} failed: {error}")


async def _try(client: AsyncOpenAI, model: str, wire: Wire, url: str) -> str | None:
    """None when a 1-token completion succeeds; the reason when the server answers 4xx."""
    prompt: str | list[int] = list(_HELLO) if wire.token_prompts else "Hello"
    body = wire.body(_PROBE, ("\nAnn:",), _EOS)
    try:
        await client.completions.create(model=model, prompt=prompt, extra_body=body)
    except openai.APIStatusError as exc:
        if exc.status_code < 500:
            return describe(exc)
        raise ConfigError("inference.base_url", url, f"POST /completions failed: {describe(exc)}") from None
    except openai.APIError as exc:
        raise ConfigError("inference.base_url", url, f"POST /completions failed: {describe(exc)}") from None
    return None


def _names(names: list[str]) -> str:
    return ", ".join(names[:8]) + (" …" if len(names) > 8 else "") if names else "nothing"
