"""Config: defaults, every section of config.example.toml, and one-line errors naming key and bounds."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from bot.config import Config, load_config
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file() -> None:
    config = load_config(None, environ={})
    assert config.model.name == "gpt2-medium"
    assert config.inference.max_batch == 64
    assert config.secrets.discord_token == ""


def test_example_file_documents_every_setting_with_its_default() -> None:
    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    config = load_config(ROOT / "config.example.toml", environ={})
    defaults = Config()
    for section in dataclasses.fields(Config):
        if section.name in ("secrets", "source"):
            continue
        documented = example.get(section.name, {})
        for field in dataclasses.fields(getattr(defaults, section.name)):
            assert field.name in documented, f"config.example.toml lacks {section.name}.{field.name}"
        assert getattr(config, section.name) == getattr(defaults, section.name), section.name


@pytest.mark.parametrize(
    ("toml", "key", "allowed"),
    [
        ("[generation]\ntemperature = 9", "generation.temperature", "from 0.0 to 2.0"),
        ("[generation]\ntop_p = 0", "generation.top_p", "greater than 0.0"),
        ("[model]\nnmae = 'gpt2'", "model.nmae", "allowed: name, device, dtype"),
        ("[modle]\nname = 'gpt2'", "modle", "unknown section"),
        ("[model]\ndevice = 'gpu'", "model.device", "auto, cpu, cuda, cuda:N or mps"),
        ("[model]\ndtype = 'int8'", "model.dtype", "auto, float32, float16, bfloat16"),
        ("[inference]\nmax_batch = 'lots'", "inference.max_batch", "whole number"),
        ("[discord]\nallow_dms = 'yes'", "discord.allow_dms", "true or false"),
        ("[discord]\nshards = 'many'", "discord.shards", "none, auto, or a shard count"),
        ("[discord]\nmoderator_roles = 'Mods'", "discord.moderator_roles", "list of strings"),
    ],
)
def test_bad_values_name_key_value_and_allowed(tmp_path: Path, toml: str, key: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, toml), environ={})
    assert info.value.key == key
    message = str(info.value)
    assert key in message and allowed in message and "\n" not in message


def test_secrets_only_from_the_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"discord\.token_env"):
        load_config(write(tmp_path, "[discord]\ntoken = 'abc'"), environ={})
    config = load_config(write(tmp_path, "[discord]\ntoken_env = 'MY_TOKEN'"), environ={"MY_TOKEN": "s3cret"})
    assert config.secrets.discord_token == "s3cret"
    assert "s3cret" not in repr(config)


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[model\n"), environ={})
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml", environ={})


def test_values_are_typed_and_frozen(tmp_path: Path) -> None:
    toml = "[generation]\ntemperature = 1\n[discord]\ncommand_guilds = [123]"
    config = load_config(write(tmp_path, toml), environ={})
    assert config.generation.temperature == 1.0 and isinstance(config.generation.temperature, float)
    assert config.discord.command_guilds == ("123",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.model.name = "x"  # type: ignore[misc]
