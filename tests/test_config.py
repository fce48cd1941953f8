"""Config: defaults, every section of config.example.toml, every key through its environment variable,
and one-line errors naming key and bounds for whatever a file or the environment holds."""

from __future__ import annotations

import dataclasses
import json
import math
import random
import subprocess
import sys
import tomllib
import typing
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, env_var, load_config, sections
from bot.errors import ConfigError
from bot.rules import MAX_LEN, Invalid, check, describe

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"
# storage.url_env names a variable that must then hold a URL
BASE_ENV = {"MY_VAR": "sqlite+aiosqlite:///other.db"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def all_keys() -> list[tuple[str, str, Any, dataclasses.Field[Any]]]:
    """(section, key, type, field) for every config key, from the dataclasses."""
    keys = []
    for name, cls in sections().items():
        hints = typing.get_type_hints(cls)
        keys += [(name, f.name, hints[f.name], f) for f in dataclasses.fields(cls)]
    return keys


KEYS = all_keys()
IDS = [f"{section}.{key}" for section, key, _, _ in KEYS]

# The same for lists: the first whose items the key's rules accept.
LIST_CANDIDATES = (("alpha", "beta gamma"), ("1", "0"))

# Candidates for a string key's non-default value: the first its rules accept is used, so a new
# key is covered without touching this test (a key none fits fails below, asking for a candidate).
STRING_CANDIDATES = (
    "MY_VAR",
    "cuda:1",
    "/hooks/slack",
    "0.0.0.0",
    "4",
    "http://127.0.0.1:8080/api/",
    "ws://127.0.0.1:8081/",
    "postgresql+asyncpg://bot@127.0.0.1:5433/bot",
    "redis://127.0.0.1:6379/1",
    "a pirate who loves tea",
)


# Keys checked beyond their field rules (a value the generic candidates would not satisfy).
OTHER_VALUES: dict[str, tuple[str, Any]] = {"classifier_labels": ("toxic=harassment", ("toxic=harassment",))}


def other_value(kind: Any, field: dataclasses.Field[Any]) -> tuple[str, Any]:
    """A valid value different from the default: (as an environment variable writes it, parsed)."""
    rules, default = field.metadata, field.default
    if field.name in OTHER_VALUES:
        return OTHER_VALUES[field.name]
    if kind is bool:
        return str(not default).lower(), not default
    if kind in (int, float):
        value = rules["hi"] if default != rules["hi"] else rules["lo"]
        return str(value), kind(value)
    if typing.get_origin(kind) is tuple:
        items = tuple(rules.get("choices_each", ())) or next(c for c in LIST_CANDIDATES if _fits(c, kind, rules))
        return ",".join(items), items
    for candidate in rules.get("choices", ()) or STRING_CANDIDATES:
        try:
            if candidate != default and check(candidate, str, rules) == candidate:
                return candidate, candidate
        except Invalid:
            continue
    raise AssertionError(f"no candidate value fits {field.name}'s rules; add one to STRING_CANDIDATES")


def _fits(value: Any, kind: Any, rules: Any) -> bool:
    try:
        check(value, kind, rules)
    except Invalid:
        return False
    return True


def bad_value(kind: Any, field: dataclasses.Field[Any]) -> str:
    """A value its rules refuse, written as text."""
    if kind is bool:
        return "maybe"
    if kind is int:
        return str(field.metadata["hi"] + 1)
    if kind is float:
        return "nan"
    if typing.get_origin(kind) is tuple:
        return '["ok", ["nested"]]'
    return "x" * (field.metadata.get("max_len", MAX_LEN) + 1)


def test_defaults_without_a_file() -> None:
    config = load_config(None, environ={})
    assert config.model.name == "gpt2-medium"
    assert config.inference.max_batch == 64
    assert config.secrets.discord_token == ""
    assert config.origins == {}


def test_example_file_documents_every_setting_with_its_default_and_doc() -> None:
    example = tomllib.loads(EXAMPLE.read_text())
    lines = set(EXAMPLE.read_text().splitlines())
    config = load_config(EXAMPLE, environ={})
    defaults = Config()
    for section, key, _, field in KEYS:
        assert key in example.get(section, {}), f"config.example.toml lacks {section}.{key}"
        assert any(line.startswith(f"{key} = ") and line.endswith(f"  # {field.metadata['doc']}") for line in lines), (
            f"config.example.toml's comment for {section}.{key} is not its doc: {field.metadata['doc']}"
        )
    for section in sections():
        assert getattr(config, section) == getattr(defaults, section), section


def test_every_key_has_a_doc_and_rules_that_describe_it() -> None:
    for section, key, kind, field in KEYS:
        assert field.metadata.get("doc"), f"{section}.{key} has no doc"
        if kind in (int, float):
            assert {"lo", "hi"} <= set(field.metadata), f"{section}.{key} is a number without bounds"
        assert describe(kind, field.metadata), f"{section}.{key}"
        default = check(field.default, kind, field.metadata)
        assert default == field.default, f"{section}.{key}'s default breaks its rules"


# Keys whose other value is only valid together with another key's.
COMPANIONS = {
    ("inference", "backend"): {"GPT2BOT_INFERENCE__BASE_URL": "http://127.0.0.1:8000/v1"},
    ("discord", "shard_ids"): {"GPT2BOT_DISCORD__SHARD_COUNT": "2"},
    ("redis", "url_env"): {"MY_VAR": "redis://127.0.0.1:6379/1"},
}


@pytest.mark.parametrize(("section", "key", "kind", "field"), KEYS, ids=IDS)
def test_every_key_can_be_set_from_its_environment_variable(section: str, key: str, kind: Any, field: Any) -> None:
    var = env_var(section, key)
    text, expected = other_value(kind, field)
    companions = {**BASE_ENV, **COMPANIONS.get((section, key), {})}
    config = load_config(None, environ={**companions, var: text})
    assert getattr(getattr(config, section), key) == expected
    assert config.origins[f"{section}.{key}"] == f"env {var}"
    if typing.get_origin(kind) is tuple:  # lists also as JSON
        as_json = load_config(None, environ={**companions, var: json.dumps(list(expected))})
        assert getattr(getattr(as_json, section), key) == expected


@pytest.mark.parametrize(("section", "key", "kind", "field"), KEYS, ids=IDS)
def test_every_key_refuses_a_bad_environment_value_in_one_line(
    section: str, key: str, kind: Any, field: Any, tmp_path: Path
) -> None:
    var = env_var(section, key)
    with pytest.raises(ConfigError) as info:
        load_config(None, environ={**BASE_ENV, var: bad_value(kind, field)})
    message = str(info.value)
    assert message.startswith(f"config error: {var} ({section}.{key}) = ") and "\n" not in message
    assert len(message) < 400


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[inference]\nmax_batch = 4\nmax_queue = 9\n")
    config = load_config(path, environ={"GPT2BOT_INFERENCE__MAX_BATCH": "8"})
    assert (config.inference.max_batch, config.inference.max_queue) == (8, 9)
    assert config.origins == {
        "inference.max_batch": "env GPT2BOT_INFERENCE__MAX_BATCH",
        "inference.max_queue": f"file {path}",
    }


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"GPT2BOT_INFERENCE__MAX_BACH": "8"}, "GPT2BOT_INFERENCE__MAX_BACH (inference.max_bach) = '8': unknown key"),
        ({"GPT2BOT_INFRENCE__MAX_BATCH": "8"}, "unknown section 'infrence'; allowed: GPT2BOT_BOT__..."),
        ({"GPT2BOT_DISCORD__TOKEN": "abc"}, "= '<hidden>': secrets are not read from GPT2BOT_ variables"),
        ({"GPT2BOT_DISCORD__ALLOW_DMS": "maybe"}, "must be true or false"),
        ({"GPT2BOT_DISCORD__MODERATOR_ROLES": "[1, "}, "must be a JSON list"),
        ({"GPT2BOT_DISCORD__MODERATOR_ROLES": "[" * 5000}, "must be a JSON list"),
    ],
)
def test_environment_mistakes(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        load_config(None, environ=environ)
    assert message in str(info.value)


def test_other_gpt2bot_variables_are_not_config_keys() -> None:
    config = load_config(None, environ={"GPT2BOT_CONFIG": "x.toml", "GPT2BOT_REQUIRE_POSTGRES": "1"})
    assert config == Config()


def test_storage_url_from_the_variable_storage_url_env_names() -> None:
    url = "postgresql+asyncpg://bot:hunter2@db:5432/gpt2bot"
    env = {"GPT2BOT_STORAGE__URL_ENV": "DATABASE_URL", "DATABASE_URL": url}
    config = load_config(None, environ=env)
    assert config.storage.url == url
    assert config.origins["storage.url"] == "env DATABASE_URL (storage.url_env)"
    with pytest.raises(ConfigError, match="names DATABASE_URL, which is not set"):
        load_config(None, environ={"GPT2BOT_STORAGE__URL_ENV": "DATABASE_URL"})
    with pytest.raises(ConfigError) as info:
        load_config(None, environ={**env, "DATABASE_URL": "postgresql+asyncpg://bot:hunter2@db:99999/gpt2bot"})
    assert "storage.url (from DATABASE_URL)" in str(info.value) and "out of range" in str(info.value)
    assert "hunter2" not in str(info.value) and "bot:***@db" in str(info.value)


def test_shards_of_several_processes() -> None:
    config = load_config(None, environ={"GPT2BOT_DISCORD__SHARD_COUNT": "4", "GPT2BOT_DISCORD__SHARD_IDS": "2,3"})
    assert config.discord.shard_count == 4 and config.discord.shard_numbers == (2, 3)


def test_redis_url_and_password_from_the_environment() -> None:
    env = {"GPT2BOT_REDIS__URL_ENV": "REDIS_URL", "REDIS_URL": "redis://:hunter2@cache:6379/2", "REDIS_PASSWORD": "pw"}
    config = load_config(None, environ=env)
    assert config.redis.url == "redis://:hunter2@cache:6379/2"
    assert config.origins["redis.url"] == "env REDIS_URL (redis.url_env)"
    assert config.secrets.redis_password == "pw" and "pw" not in repr(config)
    with pytest.raises(ConfigError, match="names REDIS_URL, which is not set"):
        load_config(None, environ={"GPT2BOT_REDIS__URL_ENV": "REDIS_URL"})
    with pytest.raises(ConfigError, match=r"redis\.password_env"):
        load_config(None, environ={"GPT2BOT_REDIS__PASSWORD": "pw"})


@pytest.mark.parametrize(
    ("toml", "key", "allowed"),
    [
        ("[generation]\ntemperature = 9", "generation.temperature", "must be from 0 to 2"),
        ("[generation]\ntop_p = 0", "generation.top_p", "must be greater than 0 and at most 1"),
        ("[generation]\ntemperature = 'hot'", "generation.temperature", "must be a number from 0 to 2"),
        ("[model]\nnmae = 'gpt2'", "model.nmae", "allowed: name, device, dtype"),
        ("[modle]\nname = 'gpt2'", "modle", "unknown section"),
        ("[model]\ndevice = 'gpu'", "model.device", "auto, cpu, cuda, cuda:N or mps"),
        ("[model]\ndtype = 'int8'", "model.dtype", "auto, float32, float16, bfloat16"),
        ("[inference]\nmax_batch = 'lots'", "inference.max_batch", "a whole number from 1 to 256"),
        ("[discord]\nallow_dms = 'yes'", "discord.allow_dms", "true or false"),
        ("[discord]\nshards = 'many'", "discord.shards", "none, auto, or a shard count"),
        ("[discord]\nmoderator_roles = 'Mods'", "discord.moderator_roles", "list of strings"),
        ("[discord]\nmoderator_roles = [true]", "discord.moderator_roles", "list of strings"),
        ('[discord]\nmoderator_roles = ["a\\u0000"]', "discord.moderator_roles", "each item: no control characters"),
        ("[discord]\napi_base_url = 'http://x:99999/'", "discord.api_base_url", "out of range"),
        ("[slack]\npath = 'events'", "slack.path", "a path starting with /"),
        (f"[slack]\nhost = '{'h' * 300}'", "slack.host", "at most 253 characters"),
        ("[storage]\nurl = 'mysql://x/y'", "storage.url", "sqlite+aiosqlite:///path.db or postgresql+asyncpg"),
        ('[storage]\nurl = "sqlite+aiosqlite:///a\\u0000b.db"', "storage.url", "no control characters"),
        ("[storage]\nurl_env = 'DATABASE URL'", "storage.url_env", "an environment variable name"),
        ("[discord]\ntoken_env = ''", "discord.token_env", "an environment variable name"),
        (f"[model]\nname = '{'a' * 300}'", "model.name", "no part longer than 255 bytes"),
        ("[logging]\nformat = 'xml'", "logging.format", "text, json"),
        ("[discord]\nshard_ids = [0]", "discord.shard_ids", "needs discord.shard_count"),
        ("[discord]\nshard_count = 2\nshard_ids = [0, 2]", "discord.shard_ids", "different shard numbers from 0 to 1"),
        ("[discord]\nshard_count = 2\nshard_ids = [1, 1]", "discord.shard_ids", "different shard numbers from 0 to 1"),
        ("[discord]\nshard_count = 2\nshard_ids = ['one']", "discord.shard_ids", "each item: allowed: shard numbers"),
        ("[discord]\nshard_count = 2\nshards = 'auto'", "discord.shards", "leave it at none when discord.shard_count"),
        ("[redis]\nurl = 'http://127.0.0.1:6379'", "redis.url", "redis://host:6379/0"),
        ("[redis]\nkey_prefix = 'a b'", "redis.key_prefix", "letters, digits"),
        ("[slack]\nredirect_path = '/slack/events'", "slack.redirect_path", "a path of its own (slack.path is"),
    ],
)
def test_bad_values_name_key_value_and_allowed(tmp_path: Path, toml: str, key: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, toml), environ={})
    assert info.value.key == key
    message = str(info.value)
    assert key in message and allowed in message and "\n" not in message and len(message) < 400


@pytest.mark.parametrize(("section", "key", "kind", "field"), [k for k in KEYS if k[2] in (int, float)], ids=str)
def test_every_number_is_finite_and_in_bounds(section: str, key: str, kind: Any, field: Any, tmp_path: Path) -> None:
    lo, hi = field.metadata["lo"], field.metadata["hi"]
    bad = ["nan", "inf", "-inf", repr(hi + 1), repr(lo - 1)] if kind is float else [str(hi + 1), str(lo - 1), "1.5"]
    for literal in bad:
        with pytest.raises(ConfigError, match=r"must be") as info:
            load_config(write(tmp_path, f"[{section}]\n{key} = {literal}\n"), environ={})
        assert info.value.key == f"{section}.{key}"
    assert math.isfinite(getattr(getattr(load_config(None, environ={}), section), key))


def test_secrets_only_from_the_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"discord\.token_env"):
        load_config(write(tmp_path, "[discord]\ntoken = 'abc'"), environ={})
    config = load_config(write(tmp_path, "[discord]\ntoken_env = 'MY_TOKEN'"), environ={"MY_TOKEN": "s3cret"})
    assert config.secrets.discord_token == "s3cret"
    assert "s3cret" not in repr(config)


def test_files_that_are_not_toml_text(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[model\n"), environ={})
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml", environ={})
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path, environ={})
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes("[bot]\nname = 'Zoë'\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 16\)"):
        load_config(latin1, environ={})
    with pytest.raises(ConfigError, match=r"nested too deeply|not valid TOML"):
        load_config(write(tmp_path, "[bot]\nname = " + "[" * 100_000), environ={})


def test_values_are_typed_and_frozen(tmp_path: Path) -> None:
    toml = "[generation]\ntemperature = 1\n[discord]\ncommand_guilds = [123]"
    config = load_config(write(tmp_path, toml), environ={})
    assert config.generation.temperature == 1.0 and isinstance(config.generation.temperature, float)
    assert config.discord.command_guilds == ("123",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.model.name = "x"  # type: ignore[misc]


# --- fuzz: config files, 0 tracebacks, 0 hangs -------------------------------------------------

FUZZ_CASES = 400
FUZZ_SEED = 13
ODD_VALUES = (
    "nan",
    "inf",
    "-inf",
    "1e999",
    "-1",
    "0",
    "99999999999999999999",
    "true",
    '""',
    '"\\u0000"',
    "[]",
    "[[]]",
    "{}",
    "{a = 1}",
    "1979-05-27T07:32:00Z",
    '"' + "x" * 5000 + '"',
    '"cuda:999"',
    "[1, 'a', true]",
    "'''\n'''",
)


def fuzz_files(directory: Path) -> list[Path]:
    """Mutations of config.example.toml: odd values; and in every other file junk bytes, cut and repeated lines."""
    rng = random.Random(FUZZ_SEED)
    lines = EXAMPLE.read_text().splitlines()
    paths = []
    for case in range(FUZZ_CASES):
        mutated = list(lines)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(mutated))
            kind = 0 if case % 2 else rng.randrange(5)  # half the files get odd values only, so they parse
            if kind == 0:
                if " = " in mutated[at]:
                    mutated[at] = mutated[at].split(" = ")[0] + " = " + rng.choice(ODD_VALUES)
            elif kind == 1:
                del mutated[at]
            elif kind == 2:
                mutated.insert(at, mutated[rng.randrange(len(mutated))])
            elif kind == 3:
                mutated[at] = mutated[at][: rng.randrange(len(mutated[at]) + 1)]
            else:
                mutated.insert(at, "".join(chr(rng.randrange(1, 0x300)) for _ in range(rng.randint(1, 20))))
        data = "\n".join(mutated).encode("utf-8", "surrogatepass")
        if rng.random() < 0.1:  # some bytes that are not UTF-8
            cut = rng.randrange(len(data))
            data = data[:cut] + bytes([rng.randrange(0x80, 0x100)]) + data[cut:]
        path = directory / f"case{case:03d}.toml"
        path.write_bytes(data)
        paths.append(path)
    return paths


RUNNER = """
import contextlib, io, json, sys, time, traceback
from bot.__main__ import main
worst, results = 0.0, {}
for path in sys.argv[1:]:
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["--config", path, "config", "show"])
    except BaseException:
        status = "traceback: " + traceback.format_exc()
    worst = max(worst, time.monotonic() - started)
    results[path] = [status, err.getvalue()]
print(json.dumps({"worst_s": worst, "results": results}))
"""


def test_fuzzed_config_files_end_in_one_line_or_a_config(tmp_path: Path) -> None:
    """Every mutated file either loads (`config show` prints it, exit 0) or is refused with one
    line and exit 2: no traceback, and no case takes longer than a second."""
    paths = fuzz_files(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, *map(str, paths)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    outcomes = {0: 0, 2: 0}
    for path, (status, stderr) in report["results"].items():
        assert status in (0, 2), f"{path}: {status}"
        outcomes[status] += 1
        if status == 2:
            assert stderr.startswith("gpt2bot: ") and stderr.count("\n") == 1, (path, stderr)
    assert report["worst_s"] < 1.0
    assert outcomes[0] > 20 and outcomes[2] > 200, outcomes  # the fuzz reaches both ends
