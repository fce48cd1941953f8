"""Shared fixtures: tiny GPT-2 models, the packaged tokenizer, stores on SQLite/PostgreSQL/memory.

PostgreSQL: tests marked `postgres` use GPT2BOT_TEST_POSTGRES_URL (default
postgresql+asyncpg://postgres@127.0.0.1:5432/test) and run in a database of their own.
Where no server answers they skip with the reason, unless GPT2BOT_REQUIRE_POSTGRES=1
(set by .ci/run), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerBase

from bot.inference.tokenizer import packaged_tokenizer

if TYPE_CHECKING:
    from tests.remote_kit import TransformersServer

POSTGRES_URL = os.environ.get("GPT2BOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("GPT2BOT_REQUIRE_POSTGRES", "") not in ("", "0")


@pytest.fixture(scope="session")
def tokenizer() -> PreTrainedTokenizerBase:
    tok = packaged_tokenizer()
    tok.pad_token = tok.eos_token
    return tok


def make_tiny_gpt2(seed: int = 0, vocab_size: int = 50257, n_positions: int = 1024) -> GPT2LMHeadModel:
    """A small random GPT-2 (dropout off) for tests."""
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=n_positions,
        n_embd=32,
        n_layer=2,
        n_head=4,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer: PreTrainedTokenizerBase) -> Path:
    """A tiny random GPT-2 written by save_pretrained (with tokenizer files), like a fine-tune."""
    path = tmp_path_factory.mktemp("tiny-gpt2")
    make_tiny_gpt2().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


async def _postgres_database() -> tuple[str, str]:
    """Create a fresh database for one test; returns (url, name)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(POSTGRES_URL)
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = await asyncpg.connect(dsn, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        reason = f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}"
        if REQUIRE_POSTGRES:
            pytest.fail(reason + " (GPT2BOT_REQUIRE_POSTGRES is set)")
        pytest.skip(reason)
    name = f"gpt2bot_test_{uuid.uuid4().hex[:12]}"
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return base.set(database=name).render_as_string(hide_password=False), name


async def _drop_postgres_database(name: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn, timeout=3)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@asynccontextmanager
async def empty_database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database URL: a real SQLite file, or a fresh PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        return
    url, name = await _postgres_database()
    try:
        yield url
    finally:
        await _drop_postgres_database(name)


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database on SQLite and on PostgreSQL (each test runs on both)."""
    async with empty_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture
def no_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make sure nothing reaches for the model hub."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield


@pytest.fixture(scope="session")
def scripted_model_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer: PreTrainedTokenizerBase) -> Path:
    """A GPT-2 whose replies are known in advance (tests/remote_kit.py), saved with its tokenizer."""
    from tests.remote_kit import save_scripted_gpt2

    return save_scripted_gpt2(tmp_path_factory.mktemp("scripted-gpt2"), tokenizer)


@pytest.fixture(scope="session")
def transformers_server(
    scripted_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TransformersServer]:
    """One `transformers serve` on loopback for the whole session, serving the scripted GPT-2."""
    from tests.remote_kit import TransformersServer

    server = TransformersServer(scripted_model_dir, tmp_path_factory.mktemp("serve") / "serve.log").start()
    yield server
    server.stop()
