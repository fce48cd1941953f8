"""The command line, run as the real process: `python -m bot ...` with a config file, the environment,
or both. Operator mistakes end in one line on stderr and exit status 2, before the model loads."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import torch

from tests.process import run_cli


def one_line_error(result: object, starts: str) -> str:
    """The process ended with status 2 and exactly one line on stderr, which starts with `starts`."""
    assert getattr(result, "returncode", None) == 2, result
    stderr: str = getattr(result, "stderr", "")
    assert stderr.count("\n") == 1 and stderr.startswith(starts), stderr[-2000:]
    assert "Traceback" not in stderr
    return stderr.strip()


def test_cli_chat_with_piped_hello_falls_back_to_demo_and_exits_0(tmp_path: Path) -> None:
    result = run_cli(["chat"], tmp_path, stdin="hello\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("GPT-2: ") and result.stdout.count("\n") == 1
    assert "DEMO MODEL" in result.stderr and "gpt2-medium" in result.stderr
    assert (tmp_path / "gpt2bot.db").exists()


def test_cli_errors_are_one_line_with_status_2(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[generation]\ntemperature = 9\n")
    result = run_cli(["chat"], tmp_path, stdin="hello\n")
    line = one_line_error(result, "gpt2bot: ")
    assert line == "gpt2bot: config error: generation.temperature = 9: must be from 0 to 2"
    (tmp_path / "config.toml").unlink()
    result = run_cli(["run"], tmp_path)
    assert "DISCORD_TOKEN" in one_line_error(result, "gpt2bot: config error: credentials")
    result = run_cli(["model", "info", "--model", "gpt2-xl"], tmp_path)
    assert result.returncode == 2 and "cannot load model 'gpt2-xl'" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_cli(["model", "info", "--model", "x" * 300], tmp_path)
    assert "no part longer than 255 bytes" in one_line_error(result, "gpt2bot: config error: --model = ")


def test_cli_db_upgrade_and_model_info(tmp_path: Path) -> None:
    result = run_cli(["db", "upgrade"], tmp_path)
    assert result.returncode == 0 and "is at migration" in result.stdout
    result = run_cli(["model", "info", "--model", "demo"], tmp_path)
    assert result.returncode == 0 and "is_demo: True" in result.stdout and "random" in result.stdout
    assert "max_batch: 64 of 64 configured; KV cache: up to 64 slots x 2 MB = 134 MB" in result.stdout


def test_a_redis_the_bot_cannot_use_stops_it_at_start_in_one_line(tmp_path: Path) -> None:
    result = run_cli(["chat"], tmp_path, stdin="hello\n", GPT2BOT_REDIS__URL="redis://:hunter2@127.0.0.1:1/0")
    line = one_line_error(result, "gpt2bot: config error: redis.url = 'redis://:***@127.0.0.1:1/0': cannot use Redis: ")
    assert "connecting to 127.0.0.1:1" in line and "hunter2" not in line
    assert "DEMO" not in result.stderr  # stopped before the model loads


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s", "SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": "x"},
            "set either SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET",
        ),
        ({"SLACK_CLIENT_ID": "1.2"}, "need SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET as well"),
        (
            {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s", "SLACK_SIGNING_SECRET": "s", "SLACK_APP_TOKEN": "a"},
            "run in HTTP mode: unset SLACK_APP_TOKEN",
        ),
    ],
)
def test_slack_installs_in_many_workspaces_need_their_secrets_and_no_bot_token(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = run_cli(["run"], tmp_path, **env)
    assert message in one_line_error(result, "gpt2bot: config error: credentials")


def test_version(tmp_path: Path) -> None:
    result = run_cli(["--version"], tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "gpt2bot 0.1.0"


def test_config_show_says_where_each_value_came_from_and_masks_secrets(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text('[inference]\nmax_batch = 4\nmax_queue = 9\n[storage]\nurl_env = "DATABASE_URL"\n')
    result = run_cli(
        ["--config", str(config), "config", "show"],
        tmp_path,
        GPT2BOT_INFERENCE__MAX_BATCH="8",
        GPT2BOT_DISCORD__MODERATOR_ROLES="Mods,Admins",
        DATABASE_URL="postgresql+asyncpg://bot:hunter2@db:5432/gpt2bot",
        DISCORD_TOKEN="discord-secret-token",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "hunter2" not in out and "discord-secret-token" not in out
    lines = set(out.splitlines())
    assert "max_batch = 8  # env GPT2BOT_INFERENCE__MAX_BATCH" in lines
    assert f"max_queue = 9  # file {config}" in lines
    assert "timeout_s = 120.0  # default" in lines
    assert 'moderator_roles = ["Mods", "Admins"]  # env GPT2BOT_DISCORD__MODERATOR_ROLES' in lines
    assert 'url = "postgresql+asyncpg://bot:***@db:5432/gpt2bot"  # env DATABASE_URL (storage.url_env)' in lines
    assert "# discord_token: DISCORD_TOKEN is set" in lines and "# slack_bot_token: SLACK_BOT_TOKEN is not set" in lines
    shown = tomllib.loads(out)  # it is a config file
    assert shown["inference"]["max_batch"] == 8 and shown["storage"]["url_env"] == "DATABASE_URL"


def test_the_environment_alone_configures_a_chat(tmp_path: Path) -> None:
    db = tmp_path / "env.db"
    result = run_cli(
        ["chat"],
        tmp_path,
        stdin="/gpt2 show\n",
        GPT2BOT_MODEL__NAME="demo",
        GPT2BOT_STORAGE__URL=f"sqlite+aiosqlite:///{db}",
        GPT2BOT_GENERATION__TEMPERATURE="0.3",
    )
    assert result.returncode == 0, result.stderr
    assert "temperature = 0.3" in result.stdout and db.exists()
    assert "Falling back" not in result.stderr  # demo was asked for, not fallen back to


NO_CUDA_DEVICE = "cuda:99" if torch.cuda.is_available() else "cuda"


@pytest.mark.parametrize(
    ("toml", "starts"),
    [
        (
            f'[model]\nname = "demo"\ndevice = "{NO_CUDA_DEVICE}"',
            f"gpt2bot: config error: model.device = '{NO_CUDA_DEVICE}': ",
        ),
        (f'[model]\nname = "{"m" * 5000}"', "gpt2bot: config error: model.name = 'mmm"),
        (f'[slack]\nhost = "{"h" * 5000}"', "gpt2bot: config error: slack.host = 'hhh"),
        ('[slack]\npath = "slack/events"', "gpt2bot: config error: slack.path = 'slack/events': allowed: a path"),
        (
            '[storage]\nurl = "postgresql+asyncpg://bot:pw@127.0.0.1:99999/db"',
            "gpt2bot: config error: storage.url = 'postgresql+asyncpg://bot:***@127.0.0.1:99999/db': not a valid URL",
        ),
        (
            '[storage]\nurl = "sqlite+aiosqlite:///bot\\u0000.db"',
            "gpt2bot: config error: storage.url = 'sqlite+aiosqlite:///bot\\x00.db': no control characters",
        ),
        ("[generation]\ntemperature = nan", "gpt2bot: config error: generation.temperature = nan: must be from 0 to 2"),
        ("[inference]\ntimeout_s = inf", "gpt2bot: config error: inference.timeout_s = inf: must be from 1 to 3600"),
    ],
    ids=["no-cuda", "long-model-name", "long-slack-host", "slack-path", "port-99999", "nul-in-url", "nan", "inf"],
)
def test_hostile_config_values_end_in_one_line(tmp_path: Path, toml: str, starts: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(toml + "\n")
    result = run_cli(["--config", str(config), "chat"], tmp_path, stdin="hello\n")
    line = one_line_error(result, starts)
    assert len(line) < 400


def test_config_files_that_are_not_text_or_not_files(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes("[bot]\nname = 'Zoë'\n".encode("latin-1"))
    result = run_cli(["--config", str(latin1), "chat"], tmp_path, stdin="hello\n")
    assert one_line_error(result, "gpt2bot: config error: --config = ").endswith("not UTF-8 text (byte 16)")
    result = run_cli(["--config", str(tmp_path), "chat"], tmp_path, stdin="hello\n")
    assert one_line_error(result, "gpt2bot: config error: --config = ").endswith("is a directory, not a TOML file")


BLOCKER = """
import importlib.abc, os, sys

class Missing(importlib.abc.MetaPathFinder):
    blocked = tuple(os.environ["BLOCK_MODULES"].split(","))

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Missing())
"""


@pytest.mark.parametrize(
    ("blocked", "args", "env", "message"),
    [
        (
            "discord",
            ["run"],
            {"DISCORD_TOKEN": "x"},
            "gpt2bot: DISCORD_TOKEN is set but discord.py is not installed: pip install 'gpt2bot[discord]'",
        ),
        (
            "slack_bolt",
            ["run"],
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"},
            "gpt2bot: SLACK_BOT_TOKEN is set but slack-bolt is not installed: pip install 'gpt2bot[slack]'",
        ),
        (
            "redis",
            ["chat"],
            {"GPT2BOT_REDIS__URL": "redis://127.0.0.1:1/0"},
            "gpt2bot: redis.url is set but the redis package is not installed: pip install 'gpt2bot[redis]'",
        ),
        (
            "asyncpg",
            ["db", "upgrade"],
            {"GPT2BOT_STORAGE__URL": "postgresql+asyncpg://postgres@127.0.0.1:1/none"},
            "gpt2bot: storage.url is a PostgreSQL URL but asyncpg is not installed: pip install 'gpt2bot[postgres]'",
        ),
    ],
)
def test_a_missing_optional_package_is_one_line_with_the_pip_command(
    tmp_path: Path, blocked: str, args: list[str], env: dict[str, str], message: str
) -> None:
    """The package is made unimportable in the child process (as if never installed); the bot says
    which extra to install before it loads any model."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    from tests.process import ROOT

    result = run_cli(args, tmp_path, PYTHONPATH=f"{site}:{ROOT}", BLOCK_MODULES=blocked, **env)
    assert one_line_error(result, "gpt2bot: ") == message
