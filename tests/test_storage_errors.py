"""A database the bot cannot use stops it at start with one line naming `storage.url`, exit 2.

Each case runs the real command line. Files are made unwritable with permissions; a root
test process (as on CI) drops its power to override them in the child first, so the bot
meets the same refusal an ordinary service user would.
"""

from __future__ import annotations

import ctypes
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES

ROOT = Path(__file__).resolve().parents[1]
PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def _as_ordinary_user() -> None:  # runs in the child between fork and exec
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
            if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def run(tmp_path: Path, url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text(f'[model]\nname = "demo"\n[storage]\nurl = "{url}"\n')
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    env.pop("GPT2BOT_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), *args],
        cwd=tmp_path,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        preexec_fn=_as_ordinary_user,
    )


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("gpt2bot: config error: storage.url = "), line
    assert all(word in line for word in words), line
    return line


def test_a_read_only_database_file_stops_the_bot_before_any_message(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    assert run(tmp_path, f"sqlite+aiosqlite:///{db}", "db", "upgrade").returncode == 0
    db.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    result = run(tmp_path, f"sqlite+aiosqlite:///{db}", "chat", stdin="hello\n")
    one_line_error(result, "readonly")
    assert result.stdout == ""  # nothing was answered with an apology


def test_a_folder_the_bot_may_not_write_in(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        one_line_error(run(tmp_path, f"sqlite+aiosqlite:///{locked}/new/bot.db", "db", "upgrade"), "Permission denied")
        one_line_error(run(tmp_path, f"sqlite+aiosqlite:///{locked}/bot.db", "db", "upgrade"), "unable to open")
    finally:
        locked.chmod(stat.S_IRWXU)


def test_a_path_that_cannot_exist(tmp_path: Path) -> None:
    one_line_error(run(tmp_path, "sqlite+aiosqlite:////dev/null/bot.db", "db", "upgrade"), "/dev/null")


@pytest.mark.postgres
def test_postgres_missing_database_wrong_user_and_no_server(tmp_path: Path) -> None:
    result = run(tmp_path, POSTGRES_URL, "db", "upgrade")
    if result.returncode != 0 and "cannot use the database" in result.stderr and not REQUIRE_POSTGRES:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")
    base = POSTGRES_URL.rsplit("/", 1)[0]
    one_line_error(run(tmp_path, f"{base}/gpt2bot_no_such_database", "db", "upgrade"), "does not exist")
    host = base.split("@", 1)[1]
    one_line_error(run(tmp_path, f"postgresql+asyncpg://no_such_role:secret@{host}/test", "chat"), "no_such_role")
    line = one_line_error(run(tmp_path, "postgresql+asyncpg://postgres@127.0.0.1:1/test", "db", "upgrade"))
    assert "cannot use the database" in line
    wrong = run(tmp_path, f"postgresql+asyncpg://no_such_role:hunter2@{host}/test", "db", "upgrade")
    assert "hunter2" not in wrong.stderr  # the password is never printed
