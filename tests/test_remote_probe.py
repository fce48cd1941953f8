"""The start-up check of a remote server: what it detects, and one clear line when something is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from openai import AsyncOpenAI

from bot.config import InferenceSection
from bot.errors import ConfigError
from bot.inference.dialects import detect
from bot.inference.probe import check_server
from tests.remote_kit import SilentServer, TransformersServer, free_port

ROOT = Path(__file__).resolve().parents[1]


def section(url: str, **fields: object) -> InferenceSection:
    return InferenceSection(backend="openai", base_url=url, **fields)  # type: ignore[arg-type]


async def check(url: str, **fields: object):
    client = AsyncOpenAI(base_url=url, api_key="none", max_retries=0, timeout=2.0)
    try:
        return await check_server(client, section(url, **fields))
    finally:
        await client.close()


async def test_auto_finds_transformers_serve_and_everything_it_applies(transformers_server: TransformersServer) -> None:
    server = await check(transformers_server.base_url)
    assert server.wire.dialect.name == "transformers" and not server.wire.token_prompts
    assert server.wire.not_applied() == () and server.n_positions == 1024
    assert server.model == str(transformers_server.model_dir)


async def test_vllm_fields_sent_to_transformers_serve_are_found_out(transformers_server: TransformersServer) -> None:
    """It answers 422 "Unexpected fields" for top_k / repetition_penalty and 400 for token ids."""
    server = await check(transformers_server.base_url, server="vllm")
    assert not server.wire.token_prompts
    assert server.wire.rejected == {"top_k", "repetition_penalty"}
    assert server.wire.not_applied() == ("top_k", "repetition_penalty", "no_repeat_ngram_size", "num_beams")


async def test_a_plain_openai_server_gets_the_standard_fields_only(transformers_server: TransformersServer) -> None:
    server = await check(transformers_server.base_url, server="openai")
    assert server.wire.rejected == frozenset() and len(server.wire.not_applied()) == 4


async def test_a_wrong_model_name_is_one_line_naming_what_is_served(transformers_server: TransformersServer) -> None:
    with pytest.raises(ConfigError) as error:
        await check(transformers_server.base_url, remote_model="gpt2-xl")
    assert error.value.key == "inference.remote_model"
    assert str(error.value).endswith(f"does not serve it; it serves: {transformers_server.model_dir}")


async def test_nobody_listening_and_a_silent_server_are_one_line_each() -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ConfigError, match=r"inference.base_url = .*: GET /models failed: Connection error \("):
        await check(closed)
    silent = SilentServer()
    try:
        with pytest.raises(ConfigError, match=r"GET /models failed: Request timed out"):
            await check(silent.base_url)
    finally:
        silent.stop()


def test_the_cli_says_what_is_wrong_in_one_line_and_exits_2(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    (tmp_path / "config.toml").write_text(f'[inference]\nbackend = "openai"\nbase_url = "{url}"\n')
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        cwd=tmp_path,
        input="hi\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"gpt2bot: config error: inference.base_url = '{url}': GET /models failed: Connection error")


def test_a_remote_backend_needs_a_base_url() -> None:
    with pytest.raises(ConfigError) as error:
        InferenceSection(backend="openai")
    assert (error.value.key, error.value.allowed) == (
        "inference.base_url",
        'required when inference.backend = "openai"',
    )


@pytest.mark.parametrize(
    ("entry", "kind"),
    [
        ({"id": "gpt2", "object": "model", "owned_by": "vllm", "max_model_len": 1024}, "vllm"),
        ({"id": "gpt2", "object": "model", "owned_by": "llamacpp", "meta": {"n_ctx_train": 1024}}, "llama.cpp"),
        ({"id": "/m", "object": "model", "owned_by": "local", "status": {"value": "loaded"}}, "transformers"),
        ({"id": "gpt2", "object": "model", "owned_by": "gpt2"}, "openai"),  # TGI says nothing: set server = "tgi"
    ],
)
def test_the_server_kind_is_read_from_its_model_list(entry: dict[str, object], kind: str) -> None:
    assert detect(entry) == kind
