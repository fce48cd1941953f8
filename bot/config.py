"""TOML file + environment → one frozen, validated `Config`.

Each section is a frozen dataclass; a field's metadata carries its doc and rules (`bot.rules`),
and one generic validator checks every key against them, so an error always names the key, the
value and what is allowed. Every key can also be set from the environment as
`GPT2BOT_<SECTION>__<KEY>` (e.g. `GPT2BOT_INFERENCE__MAX_BATCH=8`; lists comma-separated or
JSON), which wins over the file; with the environment alone no file is needed. Secrets never
come from the file: the config names the environment variables that hold them, and the
database URL may come from one too (`storage.url_env`).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.rules import Invalid, check, parse
from bot.rules import option as _opt

__all__ = [
    "BACKENDS",
    "ENV_PREFIX",
    "SERVERS",
    "BotSection",
    "Config",
    "DiscordSection",
    "GenerationSection",
    "HealthSection",
    "InferenceSection",
    "LoggingSection",
    "ModelSection",
    "RateLimitSection",
    "RedisSection",
    "SafetySection",
    "Secrets",
    "SlackSection",
    "StorageSection",
    "env_var",
    "load_config",
    "override",
    "sections",
]

ENV_PREFIX = "GPT2BOT_"
_ENV_NAME = {"pattern": r"[A-Za-z_][A-Za-z0-9_]{0,127}", "allowed": "an environment variable name like MY_TOKEN"}
_ENV_NAME_OR_EMPTY = {
    "pattern": r"([A-Za-z_][A-Za-z0-9_]{0,127})?",
    "allowed": "empty, or an environment variable name",
}
_HOST = {"max_len": 253, "pattern": r"[A-Za-z0-9._:\[\]-]+", "allowed": "a host name or IP address"}
_PATH = {"max_len": 1024, "pattern": r"/[^\s?#]*", "allowed": "a path starting with / (no spaces, ? or #)"}
BACKENDS = ("local", "openai")
SERVERS = ("vllm", "tgi", "llama.cpp", "transformers", "openai")  # how bot.inference.dialects names them


@dataclass(frozen=True)
class BotSection:
    name: str = _opt("GPT-2", "the bot's speaker name in the transcript", max_len=32)
    persona: str = _opt(
        "",
        "the line that sets the bot's character (the default; channels may set their own)",
        max_len=500,
        setting=True,
    )
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
    name: str = _opt("gpt2-medium", "hub id, local save_pretrained directory, or 'demo'", max_len=4096, path=True)
    device: str = _opt(
        "auto",
        "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, or mps",
        pattern=r"auto|cpu|mps|cuda(:\d{1,3})?",
        allowed="auto, cpu, cuda, cuda:N or mps",
    )
    dtype: str = _opt(
        "auto",
        "auto (float16 on GPU, float32 on CPU)",
        choices=("auto", "float32", "float16", "bfloat16"),
    )


@dataclass(frozen=True)
class GenerationSection:
    """Defaults for every channel; moderators override them per channel with `set`.

    Every field here is a `/gpt2 set` key (bot.settings derives the commands from this class)
    and a field of `SamplingParams` of the same name."""

    temperature: float = _opt(0.8, "randomness; 0 = always the likeliest word", lo=0.0, hi=2.0, setting=True)
    top_k: int = _opt(40, "sample among the k likeliest tokens (0 = off)", lo=0, hi=1000, setting=True)
    top_p: float = _opt(
        0.9, "sample within this probability mass (1 = off)", lo=0.0, hi=1.0, lo_open=True, setting=True
    )
    repetition_penalty: float = _opt(1.2, "discourage repeating tokens (1 = off)", lo=1.0, hi=2.0, setting=True)
    no_repeat_ngram_size: int = _opt(
        3, "never repeat a phrase of this many tokens (0 = off)", lo=0, hi=10, setting=True
    )
    num_beams: int = _opt(
        1,
        "beam search width (1 = off; slower: beam replies run one at a time beside the batch, not previewed)",
        lo=1,
        hi=8,
        setting=True,
    )
    max_new_tokens: int = _opt(60, "longest reply, in tokens", lo=1, hi=512, setting=True)
    do_sample: bool = _opt(True, "sample, or pick the likeliest tokens when off", setting=True)


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
    backend: str = _opt(
        "local", "where replies are generated: local (this process) or openai (a remote server)", choices=BACKENDS
    )
    base_url: str = _opt(
        "",
        "openai backend: the server's OpenAI API root, e.g. http://127.0.0.1:8000/v1",
        pattern=r"(https?://\S+)?",
        allowed="empty, or an http:// or https:// URL ending in the API root (usually /v1)",
    )
    remote_model: str = _opt(
        "", "openai backend: the served model's name (empty = the one model the server lists)", max_len=256
    )
    server: str = _opt(
        "auto",
        "openai backend: the server's kind, which decides the request fields it is sent (auto = from GET /v1/models)",
        choices=("auto", *SERVERS),
    )
    api_key_env: str = _opt(
        "GPT2BOT_INFERENCE_API_KEY", "openai backend: environment variable holding the API key", **_ENV_NAME
    )
    connect_timeout_s: float = _opt(5.0, "openai backend: seconds to open a connection", lo=0.1, hi=300.0)
    read_timeout_s: float = _opt(
        60.0,
        "openai backend: seconds the server may stay silent (before the first token or between tokens)",
        lo=0.1,
        hi=3600.0,
    )
    max_in_flight: int = _opt(
        16, "openai backend: requests at the server at once; more wait (up to max_queue), then 'busy'", lo=1, hi=4096
    )
    max_retries: int = _opt(
        2,
        "openai backend: retries, with backoff, on connection errors, 429 and 5xx (Retry-After honoured); "
        "all within timeout_s",
        lo=0,
        hi=10,
    )

    def __post_init__(self) -> None:
        if self.backend == "openai" and not self.base_url:
            raise ConfigError("inference.base_url", self.base_url, 'required when inference.backend = "openai"')


@dataclass(frozen=True)
class StorageSection:
    url: str = _opt(
        "sqlite+aiosqlite:///gpt2bot.db",
        "SQLAlchemy async URL (sqlite+aiosqlite or postgresql+asyncpg)",
        max_len=2048,
        schemes=("sqlite+aiosqlite", "postgresql+asyncpg"),
        allowed="sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db",
    )
    url_env: str = _opt(
        "",
        "environment variable holding the URL instead (e.g. DATABASE_URL), so no password is in this file",
        **_ENV_NAME_OR_EMPTY,
    )
    max_messages_per_channel: int = _opt(500, "older turns are deleted", lo=10, hi=1_000_000)
    max_age_days: int = _opt(30, "turns older than this are deleted (0 = keep)", lo=0, hi=36_500)
    seen_events_hours: int = _opt(
        24, "how long answered platform event ids are remembered (redeliveries are ignored)", lo=1, hi=720
    )


@dataclass(frozen=True)
class RedisSection:
    url: str = _opt(
        "",
        "Redis for several bot processes: shared rate limits and per-conversation locks (empty = none: "
        "one process, both kept in memory)",
        max_len=2048,
        schemes=("redis", "rediss", "unix"),
        allowed="empty, or redis://host:6379/0, rediss://host:6380/0 or unix:///path/redis.sock",
    )
    url_env: str = _opt(
        "", "environment variable holding the URL instead (e.g. REDIS_URL), password included", **_ENV_NAME_OR_EMPTY
    )
    password_env: str = _opt(
        "REDIS_PASSWORD", "environment variable holding the Redis password, when the URL has none", **_ENV_NAME
    )
    key_prefix: str = _opt(
        "gpt2bot",
        "prefix of every Redis key the bot writes, so deployments can share one Redis",
        pattern=r"[A-Za-z0-9_.:-]{1,64}",
        allowed="1 to 64 letters, digits, '_', '.', ':' or '-'",
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
    classifier: str = _opt(
        "",
        "local Hugging Face sequence-classification directory run beside the rules (never downloaded; "
        "empty = rules only)",
        max_len=4096,
        path=True,
    )
    classifier_labels: tuple[str, ...] = _opt(
        (), "the classifier's labels as label=category (empty = the Jigsaw/Detoxify labels)"
    )
    classifier_device: str = _opt(
        "auto",
        "auto (cuda when there is one, else cpu), cpu, cuda, cuda:N or mps",
        pattern=r"auto|cpu|mps|cuda(:\d+)?",
        allowed="auto, cpu, cuda, cuda:N or mps",
    )
    classifier_max_batch: int = _opt(32, "most texts the classifier scores in one pass", lo=1, hi=1024)

    def __post_init__(self) -> None:
        from bot.safety.categories import Category  # the safety package's vocabulary, read when checked

        names = [c.value for c in Category]
        for item in self.classifier_labels:
            label, _, category = item.partition("=")
            if not label.strip() or category not in names:
                raise ConfigError(
                    "safety.classifier_labels", item, f"label=category, with a category in: {', '.join(names)}"
                )


@dataclass(frozen=True)
class DiscordSection:
    token_env: str = _opt("DISCORD_TOKEN", "environment variable holding the bot token", **_ENV_NAME)
    allow_dms: bool = _opt(True, "answer direct messages")
    allow_bots: bool = _opt(False, "answer other bots (risks bot-to-bot loops)")
    moderator_roles: tuple[str, ...] = _opt((), "role names or ids that may change settings", max_len=100)
    command_guilds: tuple[str, ...] = _opt((), "guild ids to sync /gpt2 to (empty = global)", max_len=20)
    shards: str = _opt(
        "none",
        "'none', 'auto' (AutoShardedClient), or a shard count",
        pattern=r"none|auto|[1-9]\d{0,4}",
        allowed="none, auto, or a shard count like 4",
    )
    shard_count: int = _opt(
        0,
        "several processes: the total number of shards across all of them (0 = decided by discord.shards)",
        lo=0,
        hi=100_000,
    )
    shard_ids: tuple[str, ...] = _opt(
        (),
        "several processes: the shards this one runs, each below shard_count (empty = all of them)",
        max_len=5,
        pattern=r"\d{1,5}",
        allowed="shard numbers like 0 or 3",
    )
    restrict_commands: bool = _opt(
        True, "show /gpt2 only to members with Manage Channels (Discord hides whole commands, not subcommands)"
    )
    api_base_url: str = _opt(
        "",
        "REST API base, e.g. a rate-limit proxy: http(s)://host[/api/v10] (empty = Discord)",
        max_len=2048,
        schemes=("http", "https"),
        pattern=r"(https?://\S+)?",
        allowed="empty, or an http:// or https:// URL",
    )
    gateway_url: str = _opt(
        "",
        "gateway websocket URL, e.g. a gateway proxy: ws(s)://host (empty = Discord)",
        max_len=2048,
        schemes=("ws", "wss"),
        pattern=r"(wss?://\S+)?",
        allowed="empty, or a ws:// or wss:// URL",
    )
    guild_ready_timeout: float = _opt(
        2.0, "seconds to wait for more servers after the last one arrives at start-up", lo=0.0, hi=60.0
    )

    def __post_init__(self) -> None:
        ids = [int(shard) for shard in self.shard_ids]
        if self.shard_count and self.shards != "none":
            raise ConfigError("discord.shards", self.shards, "leave it at none when discord.shard_count is set")
        if ids and not self.shard_count:
            allowed = "needs discord.shard_count, the number of shards across all processes"
            raise ConfigError("discord.shard_ids", list(self.shard_ids), allowed)
        if any(shard >= self.shard_count for shard in ids) or len(set(ids)) < len(ids):
            count = self.shard_count
            allowed = f"different shard numbers from 0 to {count - 1} (discord.shard_count = {count})"
            raise ConfigError("discord.shard_ids", list(self.shard_ids), allowed)

    @property
    def shard_numbers(self) -> tuple[int, ...]:
        """`shard_ids` as numbers."""
        return tuple(int(shard) for shard in self.shard_ids)


@dataclass(frozen=True)
class SlackSection:
    bot_token_env: str = _opt("SLACK_BOT_TOKEN", "environment variable holding the xoxb- token", **_ENV_NAME)
    app_token_env: str = _opt(
        "SLACK_APP_TOKEN", "environment variable holding the xapp- token (Socket Mode)", **_ENV_NAME
    )
    signing_secret_env: str = _opt(
        "SLACK_SIGNING_SECRET", "environment variable holding the signing secret", **_ENV_NAME
    )
    host: str = _opt("127.0.0.1", "HTTP mode: listen address", **_HOST)
    port: int = _opt(3000, "HTTP mode: listen port", lo=1, hi=65535)
    path: str = _opt("/slack/events", "HTTP mode: request path", **_PATH)
    api_base_url: str = _opt(
        "", "Web API base URL (empty = https://slack.com/api/)", max_len=2048, schemes=("http", "https")
    )
    admin_users: tuple[str, ...] = _opt((), "user ids that may change settings besides workspace admins", max_len=32)
    placeholder: bool = _opt(True, "post a placeholder while generating, then update it")
    client_id_env: str = _opt(
        "SLACK_CLIENT_ID",
        "installs in many workspaces (OAuth, HTTP mode): environment variable holding the app's client id",
        **_ENV_NAME,
    )
    client_secret_env: str = _opt(
        "SLACK_CLIENT_SECRET", "installs: environment variable holding the app's client secret", **_ENV_NAME
    )
    install_path: str = _opt("/slack/install", "installs: the page that starts an install (link people here)", **_PATH)
    redirect_path: str = _opt(
        "/slack/oauth_redirect", "installs: where Slack sends people back (the path of the app's Redirect URL)", **_PATH
    )
    redirect_url: str = _opt(
        "",
        "installs: the app's Redirect URL in full, when it has several (empty = the one it has)",
        max_len=2048,
        schemes=("http", "https"),
    )
    scopes: tuple[str, ...] = _opt(
        (
            "app_mentions:read",
            "channels:history",
            "chat:write",
            "commands",
            "groups:history",
            "im:history",
            "mpim:history",
            "users:read",
        ),
        "installs: the bot scopes an install asks for",
        max_len=64,
    )

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for key, value in (
            ("slack.path", self.path),
            ("slack.install_path", self.install_path),
            ("slack.redirect_path", self.redirect_path),
        ):
            if value in seen:
                raise ConfigError(key, value, f"a path of its own ({seen[value]} is {value} already)")
            seen[value] = key


@dataclass(frozen=True)
class LoggingSection:
    level: str = _opt("INFO", "log level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    format: str = _opt(
        "text",
        "text (one readable line) or json (one JSON object per line, with each message's context)",
        choices=("text", "json"),
    )


@dataclass(frozen=True)
class HealthSection:
    enabled: bool = _opt(False, "serve /healthz, /readyz and Prometheus /metrics over HTTP (on in the image)")
    host: str = _opt("127.0.0.1", "listen address (0.0.0.0 in a container)", **_HOST)
    port: int = _opt(9090, "listen port", lo=1, hi=65535)


@dataclass(frozen=True)
class Secrets:
    """Read from the environment variables the config names; never from the file."""

    discord_token: str = ""
    slack_bot_token: str = ""
    slack_app_token: str = ""
    slack_signing_secret: str = ""
    slack_client_id: str = ""
    slack_client_secret: str = ""
    redis_password: str = ""

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
    redis: RedisSection = field(default_factory=RedisSection)
    ratelimit: RateLimitSection = field(default_factory=RateLimitSection)
    safety: SafetySection = field(default_factory=SafetySection)
    discord: DiscordSection = field(default_factory=DiscordSection)
    slack: SlackSection = field(default_factory=SlackSection)
    logging: LoggingSection = field(default_factory=LoggingSection)
    health: HealthSection = field(default_factory=HealthSection)
    secrets: Secrets = field(default_factory=Secrets)
    source: str = "defaults"  # where the config came from (for status/logs)
    # "section.key" -> where a value that is not a default came from: "file PATH" or "env VAR"
    # (`python -m bot config show` prints it)
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)


_SECRET_KEYS = {
    ("discord", "token"): "discord.token_env",
    ("slack", "bot_token"): "slack.bot_token_env",
    ("slack", "app_token"): "slack.app_token_env",
    ("slack", "signing_secret"): "slack.signing_secret_env",
    ("slack", "client_secret"): "slack.client_secret_env",
    ("inference", "api_key"): "inference.api_key_env",
    ("redis", "password"): "redis.password_env",
}


def sections() -> dict[str, type]:
    """Config section name -> its dataclass, in file order (secrets are no section: never from the file)."""
    hints = typing.get_type_hints(Config)
    return {f.name: hints[f.name] for f in dataclasses.fields(Config) if f.name not in ("secrets", "source", "origins")}


def env_var(section: str, key: str) -> str:
    """The environment variable that sets `section.key`: GPT2BOT_SECTION__KEY."""
    return f"{ENV_PREFIX}{section.upper()}__{key.upper()}"


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read `path` (TOML; None = no file), then the GPT2BOT_* environment; raise ConfigError."""
    env = os.environ if environ is None else environ
    values: dict[str, dict[str, Any]] = {name: {} for name in sections()}
    origins: dict[str, str] = {}
    for section, key, value in _file_values(path):
        values[section][key] = _checked(section, key, value, f"{section}.{key}", text=False)
        origins[f"{section}.{key}"] = f"file {path}"
    for section, key, var, text in _env_values(env):
        values[section][key] = _checked(section, key, text, f"{var} ({section}.{key})", text=True)
        origins[f"{section}.{key}"] = f"env {var}"
    built = {name: cls(**values[name]) for name, cls in sections().items()}
    config = Config(**built, source=str(path) if path else "defaults", origins=origins)
    config = _url_from_env(config, env)
    return dataclasses.replace(config, secrets=_read_secrets(config, env))


def override(config: Config, section: str, key: str, text: str, label: str) -> Config:
    """`config` with `section.key` set from `text` (a command-line flag called `label`), checked like the file."""
    value = _checked(section, key, text, label, text=True)
    changed = dataclasses.replace(getattr(config, section), **{key: value})
    return dataclasses.replace(config, **{section: changed}, origins={**config.origins, f"{section}.{key}": label})


# --- the layers ---------------------------------------------------------------------------


def _file_values(path: Path | None) -> Iterator[tuple[str, str, Any]]:
    if path is None:
        return
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("--config", str(path), "file not found") from None
    except IsADirectoryError:
        raise ConfigError("--config", str(path), "is a directory, not a TOML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError("--config", str(path), f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError("--config", str(path), f"cannot be read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("--config", str(path), f"not valid TOML ({exc})") from None
    except RecursionError:
        raise ConfigError("--config", str(path), "not valid TOML (nested too deeply)") from None
    known = sections()
    for name, table in raw.items():
        if name not in known:
            raise ConfigError(name, table, f"unknown section; allowed: {', '.join(known)}")
        if not isinstance(table, dict):
            raise ConfigError(name, table, "must be a table ([section])")
        for key, value in table.items():
            yield name, key, value


def _env_values(env: Mapping[str, str]) -> Iterator[tuple[str, str, str, str]]:
    """(section, key, variable, text) for every GPT2BOT_<SECTION>__<KEY> variable."""
    known = sections()
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX) or "__" not in var:
            continue  # GPT2BOT_CONFIG and friends are not config keys
        section, _, key = var.removeprefix(ENV_PREFIX).lower().partition("__")
        if section not in known:
            allowed = ", ".join(env_var(name, "...") for name in known)
            raise ConfigError(var, env[var], f"unknown section {section!r}; allowed: {allowed}")
        yield section, key, var, env[var]


def _checked(section: str, key: str, value: Any, label: str, *, text: bool) -> Any:
    if (section, key) in _SECRET_KEYS:
        where = "the file" if not text else "GPT2BOT_ variables"
        allowed = (
            f"secrets are not read from {where}; set the environment variable named by {_SECRET_KEYS[section, key]}"
        )
        raise ConfigError(label, "<hidden>", allowed)
    cls = sections()[section]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if key not in fields:
        raise ConfigError(label, value, f"unknown key; allowed: {', '.join(fields)}")
    kind = typing.get_type_hints(cls)[key]
    try:
        return parse(value, kind, fields[key].metadata) if text else check(value, kind, fields[key].metadata)
    except Invalid as exc:
        raise ConfigError(label, value, exc.allowed) from None


def _url_from_env(config: Config, env: Mapping[str, str]) -> Config:
    """`storage.url_env = "DATABASE_URL"` (or `redis.url_env`): the URL is that variable's value,
    checked like the `url` key itself."""
    for section in ("storage", "redis"):
        var = getattr(config, section).url_env
        if not var:
            continue
        url = env.get(var, "")
        if not url:
            raise ConfigError(f"{section}.url_env", var, f"names {var}, which is not set in the environment")
        checked = _checked(section, "url", url, f"{section}.url (from {var})", text=True)
        changed = dataclasses.replace(getattr(config, section), url=checked)
        origins = {**config.origins, f"{section}.url": f"env {var} ({section}.url_env)"}
        config = dataclasses.replace(config, **{section: changed}, origins=origins)
    return config


def _read_secrets(config: Config, env: Mapping[str, str]) -> Secrets:
    return Secrets(
        discord_token=env.get(config.discord.token_env, ""),
        slack_bot_token=env.get(config.slack.bot_token_env, ""),
        slack_app_token=env.get(config.slack.app_token_env, ""),
        slack_signing_secret=env.get(config.slack.signing_secret_env, ""),
        slack_client_id=env.get(config.slack.client_id_env, ""),
        slack_client_secret=env.get(config.slack.client_secret_env, ""),
        redis_password=env.get(config.redis.password_env, ""),
    )
