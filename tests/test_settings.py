"""Setting specs: bounds, parsing, resolution over defaults, sampling parameters; one schema with the config."""

from __future__ import annotations

import dataclasses

import pytest

from bot.config import BotSection, GenerationSection, load_config
from bot.errors import CommandError, ConfigError
from bot.inference.types import SamplingParams
from bot.settings import SETTINGS, resolve, sampling_params


@pytest.mark.parametrize(
    ("key", "good", "bad"),
    [
        ("temperature", ["0", "2", "0.7"], ["-0.1", "2.01", "nan", "inf", "hot"]),
        ("top_k", ["0", "1000"], ["-1", "1001", "2.5"]),
        ("top_p", ["1", "0.01"], ["0", "1.1"]),
        ("repetition_penalty", ["1", "2"], ["0.9", "2.1"]),
        ("no_repeat_ngram_size", ["0", "10"], ["11", "-1"]),
        ("num_beams", ["1", "8"], ["0", "9"]),
        ("max_new_tokens", ["1", "512"], ["0", "513"]),
        ("do_sample", ["on", "off", "true", "no"], ["maybe"]),
        ("persona", ["", "a pirate"], ["x" * 501]),
    ],
)
def test_bounds(key: str, good: list[str], bad: list[str]) -> None:
    spec = SETTINGS[key]
    for value in good:
        spec.parse(value)
    for value in bad:
        with pytest.raises(CommandError) as info:
            spec.parse(value)
        assert spec.bounds in info.value.user_message and key in info.value.user_message


def test_bounds_are_spelled_out() -> None:
    assert SETTINGS["temperature"].bounds == "from 0 to 2"
    assert SETTINGS["top_p"].bounds == "greater than 0 and at most 1"
    assert SETTINGS["max_new_tokens"].bounds == "a whole number from 1 to 512"


def test_resolve_overlays_valid_overrides_and_ignores_bad_rows() -> None:
    settings = resolve(
        GenerationSection(),
        BotSection(persona="default persona"),
        {"temperature": "0.3", "top_k": "99999", "gone": "1", "do_sample": "off"},
    )
    assert settings.temperature == 0.3
    assert settings.top_k == GenerationSection().top_k  # out of bounds row ignored
    assert settings.persona == "default persona"
    params = settings.sampling()
    assert params.do_sample is False


def test_temperature_zero_means_greedy() -> None:
    params = resolve(GenerationSection(), BotSection(), {"temperature": "0"}).sampling(seed=7)
    assert params.do_sample is False and params.temperature == 1.0 and params.seed == 7


def test_one_schema_for_settings_config_and_sampling() -> None:
    """The `/gpt2 set` keys are the config fields marked as settings: same doc, same bounds, and
    the engine's SamplingParams has a field of the same name for each generation setting."""
    generation = {f.name: f for f in dataclasses.fields(GenerationSection)}
    assert list(SETTINGS) == [*generation, "persona"]
    for key, field in generation.items():
        assert SETTINGS[key].help == field.metadata["doc"] and SETTINGS[key].rules is field.metadata
    persona = next(f for f in dataclasses.fields(BotSection) if f.name == "persona")
    assert SETTINGS["persona"].help == persona.metadata["doc"]
    assert {f.name for f in dataclasses.fields(SamplingParams)} == {*generation, "seed"}
    assert sampling_params() == resolve(GenerationSection(), BotSection(), {}).sampling()


@pytest.mark.parametrize("key", [f.name for f in dataclasses.fields(GenerationSection)])
def test_chat_and_config_refuse_the_same_values_with_the_same_bounds(key: str) -> None:
    spec = SETTINGS[key]
    for text in ("nan", "-1", "100000", "maybe", "1.5"):
        try:
            spec.parse(text)
            chat_ok = True
        except CommandError as exc:
            chat_ok = False
            assert spec.bounds in exc.user_message
        try:
            load_config(None, environ={f"GPT2BOT_GENERATION__{key.upper()}": text})
            config_ok = True
        except ConfigError as exc:
            config_ok = False
            assert spec.kind is bool or spec.bounds in str(exc)  # booleans: "on or off" in chat, "true or false" here
        assert chat_ok == config_ok, (key, text)
