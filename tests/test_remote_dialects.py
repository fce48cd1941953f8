"""Request bodies per server kind: every channel setting lands in the field that server reads, or is reported."""

from __future__ import annotations

import json

from bot.inference.dialects import Wire
from bot.settings import sampling_params

SAMPLED = sampling_params(temperature=0.7, top_k=0, top_p=0.9, repetition_penalty=1.3, no_repeat_ngram_size=3, seed=5)
GREEDY = sampling_params(do_sample=False, temperature=1.0, top_k=40, max_new_tokens=20)
STOPS = ("\nAnn:", "\nBob:", "\nCy:", "\nDee:", "\nEd:", "\nGPT-2:")


def test_vllm_gets_its_extra_fields_token_prompts_and_every_stop_string() -> None:
    wire = Wire.of("vllm")
    body = wire.body(SAMPLED, STOPS, 50256)
    assert wire.token_prompts
    assert body == {
        "max_tokens": 60,
        "stop": list(STOPS),
        "seed": 5,
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": -1,  # vLLM's "off" (0 is refused by older releases)
        "repetition_penalty": 1.3,
    }
    assert wire.not_applied() == ("no_repeat_ngram_size", "num_beams")


def test_greedy_is_temperature_zero_without_sampling_fields() -> None:
    body = Wire.of("llama.cpp").body(GREEDY, (), 50256)
    assert body["temperature"] == 0.0 and "top_p" not in body and "stop" not in body and "seed" not in body
    assert body["top_k"] == 40 and body["repeat_penalty"] == 1.2  # llama.cpp's name for the penalty


def test_tgi_and_plain_openai_take_at_most_four_stop_strings_and_text_prompts() -> None:
    for name in ("tgi", "openai"):
        wire = Wire.of(name)
        assert not wire.token_prompts and wire.body(SAMPLED, STOPS, 50256)["stop"] == list(STOPS[:4])
    assert Wire.of("tgi").applied() == ("repetition_penalty",) and Wire.of("openai").applied() == ()


def test_transformers_gets_a_whole_generation_config_with_eos_and_sampling_switched_on() -> None:
    wire = Wire.of("transformers")
    body = wire.body(SAMPLED, ("\nAnn:",), 50256)
    config = json.loads(str(body["generation_config"]))
    assert config == {
        "do_sample": True,
        "max_new_tokens": 60,
        "eos_token_id": 50256,
        "pad_token_id": 50256,
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": 0,
        "repetition_penalty": 1.3,
        "no_repeat_ngram_size": 3,
        "num_beams": 1,
    }
    assert body["stop"] == ["\nAnn:"] and body["seed"] == 5 and "temperature" not in body
    greedy = json.loads(str(wire.body(GREEDY, (), 50256)["generation_config"]))
    assert greedy["do_sample"] is False and "top_k" not in greedy and "temperature" not in greedy


def test_only_transformers_beam_search_is_sent_unstreamed() -> None:
    beams = sampling_params(num_beams=4, do_sample=False)
    assert not Wire.of("transformers").streams(beams) and Wire.of("transformers").streams(SAMPLED)
    assert Wire.of("vllm").streams(beams)  # not sent to vLLM at all: reported as not applied


def test_a_rejected_setting_is_no_longer_sent_and_is_reported() -> None:
    wire = Wire.of("vllm")
    named = wire.named_in("HTTP 422: Unexpected fields in the request: {'top_k'}")
    assert named == {"top_k"}
    narrowed = wire.without(named)
    assert "top_k" not in narrowed.body(SAMPLED, (), 50256) and narrowed.not_applied()[0] == "top_k"
    assert narrowed.describe() == "vllm: token-id prompts, applies repetition_penalty"
