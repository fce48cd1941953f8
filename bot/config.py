"""TOML + environment → one frozen, validated `Config`.

Each section is a frozen dataclass; a field's metadata carries its bounds or choices,
and one generic validator checks every key against them, so an error always names the
key, the value and what is allowed. Secrets never come from the file: the config names
the environment variables that hold them.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import ConfigError

__all__ = [
    "BotSection",
    "Config",
    "DiscordSection",
    "GenerationSection",
    "InferenceSection",
    "LoggingSection",
    "ModelSection",
    "RateLimitSection",
    "SafetySection",
    "Secrets",
    "SlackSection",
    "StorageSection",
    "load_config",
]


def _opt(default: Any, doc: str, **rules: Any) -> Any:
    """A config field: default, one-line doc, and rules (lo, hi, choices, max_len)."""
    return field(default=default, metadata={"doc": doc, **rules})


@dataclass(frozen=True)
class BotSection:
    name: str = _opt("GPT-2", "the bot's speaker name in the transcript", max_len=32)
    persona: str = _opt("", "default persona line for channels that set none", max_len=500)
    max_input_chars: int = _opt(2000, "longer messages are refused", lo=1, hi=100_000)
    preview_interval_s: float = _opt(
        1.0,
        "show a slow reply while it is written, edited at most this often (0 = off; "
        "only text the output check passes is shown)",
        lo=0.0,
        hi=60.0,
    )
    shutdown_grace_s: float = _opt(
        20.0, "on SIGTERM/SIGINT, how long replies in progress may finish before they are cancelled", lo=0.0, hi=600.0
    )
    recover_within_s: float = _opt(
        900.0,
        "messages received but not answered (the bot was stopped or crashed) are answered after a restart "
        "if they are at most this old (0 = never)",
        lo=0.0,
        hi=86_400.0,
    )
    recover_after_s: float = _opt(
        30.0,
        "a message whose process died while answering it is answered by another process, or after the restart, "
        "once this long passed without a sign of life from it",
        lo=3.0,
        hi=600.0,
    )


@dataclass(frozen=True)
class ModelSection:
    name: str = _opt("gpt2-medium", "hub id, local save_pretrained directory, or 'demo'")
    device: str = _opt(
        "auto",
        "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, or mps",
        pattern=r"auto|cpu|mps|cuda(:\d+)?",
        allowed="auto, cpu, cuda, cuda:N or mps",
    )
    dtype: str = _opt(
        "auto",
        "auto (float16 on GPU, float32 on CPU)",
        choices=("auto", "float32", "float16", "bfloat16"),
    )


@dataclass(frozen=True)
class GenerationSection:
    """Defaults for every channel; moderators override them per channel with `set`."""

    temperature: float = _opt(0.8, "sampling temperature", lo=0.0, hi=2.0)
    top_k: int = _opt(40, "keep the k most likely tokens (0 = off)", lo=0, hi=1000)
    top_p: float = _opt(0.9, "nucleus sampling mass (1 = off)", lo=0.0, hi=1.0, lo_open=True)
    repetition_penalty: float = _opt(1.2, "penalise repeated tokens (1 = off)", lo=1.0, hi=2.0)
    no_repeat_ngram_size: int = _opt(3, "never repeat an n-gram of this size (0 = off)", lo=0, hi=10)
    num_beams: int = _opt(1, "beam search width (1 = off)", lo=1, hi=8)
    max_new_tokens: int = _opt(60, "longest reply in tokens", lo=1, hi=512)
    do_sample: bool = _opt(True, "sample (true) or decode greedily (false)")


@dataclass(frozen=True)
class InferenceSection:
    max_batch: int = _opt(
        64,
        "most requests decoded together (lowered at start, with a warning, if their KV cache would not fit)",
        lo=1,
        hi=256,
    )
    max_queue: int = _opt(256, "waiting requests beyond this are answered 'busy'", lo=1, hi=100_000)
    max_wait_s: float = _opt(
        30.0,
        "answer 'busy' at once when a new request would wait longer than this to start (0 = off)",
        lo=0.0,
        hi=3600.0,
    )
    timeout_s: float = _opt(120.0, "a request waiting + generating longer fails", lo=1.0, hi=3600.0)
    max_prefill_tokens: int = _opt(
        0, "prompt tokens prefilled per step while others wait (0 = auto: 4096 on GPU, 1024 on CPU)", lo=0, hi=65_536
    )
    cuda_graphs: bool = _opt(True, "capture CUDA graphs for decode steps on GPU")
    prefix_cache_mb: int = _opt(
        512,
        "memory for finished replies' keys/values, so a conversation's next turn skips "
        "re-reading its history (0 = off; at most a quarter of free memory)",
        lo=0,
        hi=1_000_000,
    )


@dataclass(frozen=True)
class StorageSection:
    url: str = _opt("sqlite+aiosqlite:///gpt2bot.db", "SQLAlchemy async URL (sqlite+aiosqlite or postgresql+asyncpg)")
    max_messages_per_channel: int = _opt(500, "older turns are deleted", lo=10, hi=1_000_000)
    max_age_days: int = _opt(30, "turns older than this are deleted (0 = keep)", lo=0, hi=36_500)
    seen_events_hours: int = _opt(
        24, "how long answered platform event ids are remembered (redeliveries are ignored)", lo=1, hi=720
    )


@dataclass(frozen=True)
class RateLimitSection:
    user_per_minute: int = _opt(6, "chat messages one user may send per minute (0 = off)", lo=0, hi=10_000)
    channel_per_minute: int = _opt(30, "chat messages per channel per minute (0 = off)", lo=0, hi=10_000)


@dataclass(frozen=True)
class SafetySection:
    enabled: bool = _opt(True, "check input and output (turning this off is logged loudly)")
    preset: str = _opt("standard", "global default preset", choices=("strict", "standard", "relaxed"))
    log_content: bool = _opt(False, "store PII-redacted excerpts in the moderation log")
    retention_days: int = _opt(30, "moderation log rows older than this are deleted (0 = keep)", lo=0, hi=36_500)
    classifiers: tuple[str, ...] = _opt(
        (), "optional packaged classifiers to add to the rules", choices_each=("profanity_check",)
    )
    checkpoint: str = _opt("", "optional local Hugging Face classifier directory (never downloaded)")


@dataclass(frozen=True)
class DiscordSection:
    token_env: str = _opt("DISCORD_TOKEN", "environment variable holding the bot token")
    allow_dms: bool = _opt(True, "answer direct messages")
    allow_bots: bool = _opt(False, "answer other bots (risks bot-to-bot loops)")
    moderator_roles: tuple[str, ...] = _opt((), "role names or ids that may change settings")
    command_guilds: tuple[str, ...] = _opt((), "guild ids to sync /gpt2 to (empty = global)")
    shards: str = _opt(
        "none",
        "'none', 'auto' (AutoShardedClient), or a shard count",
        pattern=r"none|auto|[1-9]\d{0,4}",
        allowed="none, auto, or a shard count like 4",
    )
    restrict_commands: bool = _opt(
        True, "show /gpt2 only to members with Manage Channels (Discord hides whole commands, not subcommands)"
    )
    api_base_url: str = _opt(
        "",
        "REST API base, e.g. a rate-limit proxy: http(s)://host[/api/v10] (empty = Discord)",
        pattern=r"(https?://\S+)?",
        allowed="empty, or an http:// or https:// URL",
    )
    gateway_url: str = _opt(
        "",
        "gateway websocket URL, e.g. a gateway proxy: ws(s)://host (empty = Discord)",
        pattern=r"(wss?://\S+)?",
        allowed="empty, or a ws:// or wss:// URL",
    )
    guild_ready_timeout: float = _opt(
        2.0, "seconds to wait for more servers after the last one arrives at start-up", lo=0.0, hi=60.0
    )


@dataclass(frozen=True)
class SlackSection:
    bot_token_env: str = _opt("SLACK_BOT_TOKEN", "environment variable holding the xoxb- token")
    app_token_env: str = _opt("SLACK_APP_TOKEN", "environment variable holding the xapp- token (Socket Mode)")
    signing_secret_env: str = _opt("SLACK_SIGNING_SECRET", "environment variable holding the signing secret")
    host: str = _opt("127.0.0.1", "HTTP mode: listen address")
    port: int = _opt(3000, "HTTP mode: listen port", lo=1, hi=65535)
    path: str = _opt("/slack/events", "HTTP mode: request path")
    api_base_url: str = _opt("", "Web API base URL (empty = https://slack.com/api/)")
    admin_users: tuple[str, ...] = _opt((), "user ids that may change settings besides workspace admins")
    placeholder: bool = _opt(True, "post a placeholder while generating, then update it")


@dataclass(frozen=True)
class LoggingSection:
    level: str = _opt("INFO", "log level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))


@dataclass(frozen=True)
class Secrets:
    """Read from the environment variables the config names; never from the file."""

    discord_token: str = ""
    slack_bot_token: str = ""
    slack_app_token: str = ""
    slack_signing_secret: str = ""

    def __repr__(self) -> str:  # never print secrets
        present = [f.name for f in dataclasses.fields(self) if getattr(self, f.name)]
        return f"Secrets(present={present})"


@dataclass(frozen=True)
class Config:
    bot: BotSection = field(default_factory=BotSection)
    model: ModelSection = field(default_factory=ModelSection)
    generation: GenerationSection = field(default_factory=GenerationSection)
    inference: InferenceSection = field(default_factory=InferenceSection)
    storage: StorageSection = field(default_factory=StorageSection)
    ratelimit: RateLimitSection = field(default_factory=RateLimitSection)
    safety: SafetySection = field(default_factory=SafetySection)
    discord: DiscordSection = field(default_factory=DiscordSection)
    slack: SlackSection = field(default_factory=SlackSection)
    logging: LoggingSection = field(default_factory=LoggingSection)
    secrets: Secrets = field(default_factory=Secrets)
    source: str = "defaults"  # where the config came from (for status/logs)


_SECRET_KEYS = {
    ("discord", "token"): "discord.token_env",
    ("slack", "bot_token"): "slack.bot_token_env",
    ("slack", "app_token"): "slack.app_token_env",
    ("slack", "signing_secret"): "slack.signing_secret_env",
}


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read `path` (TOML; None = defaults only) and the environment; raise ConfigError."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("--config", str(path), "file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("--config", str(path), f"not valid TOML ({exc})") from None
    sections = {f.name: f for f in dataclasses.fields(Config) if f.name not in ("secrets", "source")}
    built: dict[str, Any] = {}
    for name, table in raw.items():
        if name not in sections:
            raise ConfigError(name, table, f"unknown section; allowed: {', '.join(sections)}")
        if not isinstance(table, dict):
            raise ConfigError(name, table, "must be a table ([section])")
        built[name] = _build_section(name, _section_type(name), table)
    config = Config(**built, source=str(path) if path else "defaults")
    return dataclasses.replace(config, secrets=_read_secrets(config, env))


def _section_type(name: str) -> type:
    hints = typing.get_type_hints(Config)
    section: type = hints[name]
    return section


def _build_section(section: str, cls: type, table: dict[str, Any]) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{section}.{key}"
        if (section, key) in _SECRET_KEYS:
            env_key = _SECRET_KEYS[(section, key)]
            allowed = f"secrets are not read from the file; set the environment variable named by {env_key}"
            raise ConfigError(dotted, "<hidden>", allowed)
        if key not in fields:
            raise ConfigError(dotted, value, f"unknown key; allowed: {', '.join(fields)}")
        values[key] = _check_value(dotted, value, hints[key], fields[key].metadata)
    return cls(**values)


def _check_value(key: str, value: Any, hint: Any, rules: Mapping[str, Any]) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise ConfigError(key, value, "must be a list of strings")
        items = tuple(str(v) for v in value)
        allowed: tuple[str, ...] = rules.get("choices_each", ())
        if allowed and any(v not in allowed for v in items):
            raise ConfigError(key, value, f"allowed items: {', '.join(allowed)}")
        return items
    if isinstance(hint, types.UnionType):
        raise ConfigError(key, value, "unsupported type")  # no optional fields exist
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, value, "must be true or false")
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, value, f"must be a whole number{_bounds(rules)}")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, value, f"must be a number{_bounds(rules)}")
        value = float(value)
    elif hint is str and not isinstance(value, str):
        raise ConfigError(key, value, "must be a string")
    _check_rules(key, value, rules)
    return value


def _check_rules(key: str, value: Any, rules: Mapping[str, Any]) -> None:
    choices = rules.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(key, value, f"allowed: {', '.join(map(str, choices))}")
    pattern = rules.get("pattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise ConfigError(key, value, f"allowed: {rules['allowed']}")
    max_len = rules.get("max_len")
    if max_len is not None and len(value) > max_len:
        raise ConfigError(key, value, f"at most {max_len} characters")
    lo, hi = rules.get("lo"), rules.get("hi")
    if lo is None or hi is None:
        return
    too_low = value <= lo if rules.get("lo_open") else value < lo
    if too_low or value > hi:
        raise ConfigError(key, value, f"must be{_bounds(rules)}")


def _bounds(rules: Mapping[str, Any]) -> str:
    if "lo" not in rules:
        return ""
    left = "greater than" if rules.get("lo_open") else "from"
    return f" {left} {rules['lo']} to {rules['hi']}"


def _read_secrets(config: Config, env: Mapping[str, str]) -> Secrets:
    return Secrets(
        discord_token=env.get(config.discord.token_env, ""),
        slack_bot_token=env.get(config.slack.bot_token_env, ""),
        slack_app_token=env.get(config.slack.app_token_env, ""),
        slack_signing_secret=env.get(config.slack.signing_secret_env, ""),
    )
