"""`python -m bot config show`: the configuration in force, where each value came from, secrets masked.

The output is TOML (it can be saved as a config file): one `key = value  # origin` line per key,
where the origin is `default`, `file PATH`, or `env VARIABLE`. Secrets are listed as comments
saying only whether their variable is set; a password inside a URL is shown as `***`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from bot.config import Config, Secrets, sections
from bot.rules import mask_credentials

__all__ = ["mask", "render"]

_SECRET_NAMES = re.compile(r"(token|secret|password|api_key)$")
_SECRET_VARS = {  # Secrets field -> the config key naming its variable
    "discord_token": ("discord", "token_env"),
    "slack_bot_token": ("slack", "bot_token_env"),
    "slack_app_token": ("slack", "app_token_env"),
    "slack_signing_secret": ("slack", "signing_secret_env"),
    "slack_client_id": ("slack", "client_id_env"),
    "slack_client_secret": ("slack", "client_secret_env"),
    "redis_password": ("redis", "password_env"),
}


def mask(key: str, value: Any) -> Any:
    """A value safe to print: secret-named keys hidden, URL passwords replaced by ***."""
    if isinstance(value, str) and value and _SECRET_NAMES.search(key):
        return "***"
    if isinstance(value, str):
        return mask_credentials(value)
    return value


def render(config: Config) -> str:
    source = "no file" if config.source == "defaults" else f"file {config.source}"
    lines = [f"# gpt2bot configuration in force ({source}, then GPT2BOT_* variables, then defaults)"]
    for name in sections():
        lines += ["", f"[{name}]"]
        section = getattr(config, name)
        for field in dataclasses.fields(section):
            value = mask(field.name, getattr(section, field.name))
            origin = config.origins.get(f"{name}.{field.name}", "default")
            lines.append(f"{field.name} = {_toml(value)}  # {origin}")
    lines += ["", "# secrets: read only from the environment variables named above, never shown"]
    for field in dataclasses.fields(Secrets):
        section, key = _SECRET_VARS[field.name]
        var = getattr(getattr(config, section), key)
        state = "set" if getattr(config.secrets, field.name) else "not set"
        lines.append(f"# {field.name}: {var} is {state}")
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return json.dumps(list(value), ensure_ascii=False)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    return repr(value)
