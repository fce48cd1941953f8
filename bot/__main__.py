"""Command line: `python -m bot chat | run | db upgrade | model info | config show`, and `--version`.

Operator mistakes (bad config, a model that can't load, a device that isn't there, a missing
optional package, a missing migration) end with one clear line on stderr and exit status 2,
never a traceback. The cheap checks all run before the model loads.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import os
import sys
from pathlib import Path

from bot import version
from bot.config import Config, load_config, override
from bot.errors import AdapterError, ConfigError, ModelLoadError
from bot.logs import setup_logging

__all__ = ["main"]

EXIT_USAGE = 2
_MODEL_COMMANDS = ("chat", "run", "model")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _config(args)
        if args.command == "config":
            from bot.config_show import render

            sys.stdout.write(render(config))
            return 0
        setup_logging(config.logging.level, config.logging.format, quiet=args.command == "chat" and not args.verbose)
        return int(asyncio.run(_dispatch(args, config)) or 0)
    except (ConfigError, ModelLoadError, AdapterError) as exc:
        print(f"gpt2bot: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return EXIT_USAGE


async def _dispatch(args: argparse.Namespace, config: Config) -> int:
    if args.command == "run":
        _require_credentials(config)
    _require_packages(config, args.command)
    if args.command in _MODEL_COMMANDS:
        _require_device(config.model.device)
    from bot import app  # imports torch: only after the cheap checks

    if args.command == "chat":
        await app.run_chat(config, channel=args.channel, user=args.user)
    elif args.command == "run":
        await app.run_platforms(config)
    elif args.command == "db":
        await _db_upgrade(config)
    elif args.command == "model":
        _model_info(config)
    return 0


async def _db_upgrade(config: Config) -> None:
    from storage.database import head_revision, masked_url, open_database

    engine = await open_database(config.storage.url, migrate=True)
    await engine.dispose()
    print(f"database at {masked_url(config.storage.url)} is at migration {head_revision()}")


def _model_info(config: Config) -> None:
    from bot import messages
    from bot.app import fit_memory
    from bot.inference.model import load_model

    loaded = load_model(config.model.name, config.model.device, config.model.dtype)
    info = loaded.info
    for field in dataclasses.fields(info):
        print(f"{field.name}: {getattr(info, field.name)}")
    print(f"tokenizer: {type(loaded.tokenizer).__name__}, {len(loaded.tokenizer)} tokens")
    fit = fit_memory(config, loaded)
    print(f"max_batch: {fit.max_batch} of {fit.requested} configured; {fit.describe()}")
    if info.is_demo:
        print(messages.DEMO_WARNING)


def _require_credentials(config: Config) -> None:
    secrets, slack = config.secrets, config.slack
    if not (secrets.discord_token or secrets.slack_bot_token or secrets.slack_client_id):
        raise ConfigError(
            "credentials",
            "none",
            f"set {config.discord.token_env} (Discord) or {slack.bot_token_env} (Slack) in the environment, "
            "or talk to the bot in this terminal with `python -m bot chat`",
        )
    if secrets.slack_client_id:
        _require_installs(config)
    elif secrets.slack_bot_token and not (secrets.slack_app_token or secrets.slack_signing_secret):
        raise ConfigError(
            "credentials",
            slack.bot_token_env,
            f"Slack needs {slack.app_token_env} (Socket Mode) or {slack.signing_secret_env} (HTTP mode) as well",
        )


def _require_installs(config: Config) -> None:
    """Slack installs in many workspaces: OAuth in HTTP mode, instead of one workspace's token."""
    secrets, slack = config.secrets, config.slack
    if secrets.slack_bot_token:
        raise ConfigError(
            "credentials",
            f"{slack.bot_token_env} and {slack.client_id_env}",
            f"set either {slack.bot_token_env} (one workspace) or {slack.client_id_env} and "
            f"{slack.client_secret_env} (installs in many workspaces), not both",
        )
    missing = [
        var
        for var, value in (
            (slack.client_secret_env, secrets.slack_client_secret),
            (slack.signing_secret_env, secrets.slack_signing_secret),
        )
        if not value
    ]
    if missing or secrets.slack_app_token:
        allowed = f"installs in many workspaces need {' and '.join(missing)} as well" if missing else ""
        allowed = allowed or f"installs in many workspaces run in HTTP mode: unset {slack.app_token_env}"
        raise ConfigError("credentials", slack.client_id_env, allowed)


def _require_packages(config: Config, command: str) -> None:
    """The optional extras this run needs are installed; otherwise one line with the pip command."""
    if command == "run" and config.secrets.discord_token:
        _need(("discord",), "discord", f"{config.discord.token_env} is set but discord.py is not installed")
    if command == "run" and (config.secrets.slack_bot_token or config.secrets.slack_client_id):
        var = config.slack.bot_token_env if config.secrets.slack_bot_token else config.slack.client_id_env
        problem = f"{var} is set but slack-bolt is not installed"
        _need(("slack_bolt", "slack_sdk"), "slack", problem)
    if command in ("chat", "run", "db") and config.storage.url.startswith("postgresql"):
        _need(("asyncpg",), "postgres", "storage.url is a PostgreSQL URL but asyncpg is not installed")
    if command in ("chat", "run") and config.redis.url:
        _need(("redis",), "redis", "redis.url is set but the redis package is not installed")
    if command in ("chat", "run") and "profanity_check" in config.safety.classifiers:
        _need(("profanity_check",), "classifiers", "safety.classifiers names profanity_check, which is not installed")


def _need(modules: tuple[str, ...], extra: str, problem: str) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            raise AdapterError(f"{problem}: pip install 'gpt2bot[{extra}]'") from None


def _require_device(device: str) -> None:
    """`model.device` names hardware this machine has (torch would fail later with a traceback)."""
    if device in ("auto", "cpu"):
        return
    import torch

    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("model.device", device, "MPS is not available on this machine; use auto or cpu")
    if device.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if count == 0:
            why = "this torch has no CUDA support" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise ConfigError("model.device", device, f"{why}; use auto or cpu")
        if index >= count:
            raise ConfigError("model.device", device, f"only {count} CUDA device(s) here: cuda:0 to cuda:{count - 1}")


def _config(args: argparse.Namespace) -> Config:
    path = args.config or os.environ.get("GPT2BOT_CONFIG") or ("config.toml" if Path("config.toml").exists() else None)
    config = load_config(Path(path) if path else None)
    if getattr(args, "model", None):
        config = override(config, "model", "name", args.model, "--model")
    return config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="GPT-2 chat bot for Discord and Slack")
    parser.add_argument("--version", action="version", version=f"gpt2bot {version()}")
    parser.add_argument("--config", help="TOML config file (default: $GPT2BOT_CONFIG or ./config.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at the configured level in chat mode")
    commands = parser.add_subparsers(dest="command", required=True)
    chat = commands.add_parser("chat", help="chat with the bot in this terminal (stdin may be piped)")
    chat.add_argument("--channel", default="console", help="conversation name (its history is kept)")
    chat.add_argument("--user", default="you", help="your name in the transcript")
    chat.add_argument("--model", help="override model.name (hub id, directory, or demo)")
    commands.add_parser("run", help="connect every platform whose credentials are set")
    db = commands.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"], help="apply migrations up to the newest")
    model = commands.add_parser("model", help="model maintenance")
    model.add_argument("action", choices=["info"], help="load the model and describe it")
    model.add_argument("--model", help="override model.name")
    config = commands.add_parser("config", help="configuration")
    config.add_argument(
        "action", choices=["show"], help="print the configuration in force, where each value came from (secrets masked)"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
