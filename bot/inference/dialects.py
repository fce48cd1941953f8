"""What each OpenAI-compatible server understands in a `/v1/completions` request.

Every server takes the OpenAI fields: `prompt`, `max_tokens`, `temperature`, `top_p`, `seed`,
`stop`, `stream`. The rest of a channel's settings travel in fields of each server's own:

| setting              | vllm                 | llama.cpp        | tgi                  | transformers  |
| -------------------- | -------------------- | ---------------- | -------------------- | ------------- |
| top_k                | `top_k` (-1 = off)   | `top_k`          | —                    | in `g_c`      |
| repetition_penalty   | `repetition_penalty` | `repeat_penalty` | `repetition_penalty` | in `g_c`      |
| no_repeat_ngram_size | —                    | —                | —                    | in `g_c`      |
| num_beams            | —                    | —                | —                    | in `g_c` (*)  |
| token-id prompt      | yes                  | yes              | no (text)            | no (text)     |

(`g_c`: its `generation_config` field; (*) beam search is not streamed.)

`openai` is any other server: the OpenAI fields only, a text prompt, at most 4 stop strings.
A "—" setting is never sent (vLLM and llama.cpp ignore unknown fields without a word, so sending
it would drop it silently); it is reported as not applied instead, as is a setting the server
answered with a 4xx when the bot started (`Wire.without`).

`transformers serve` takes a whole `generation_config` (JSON text) in place of the model's own;
it is the only way to reach its sampler, since it answers any unknown field with 422, and its
`temperature` alone does not switch sampling on when the model's config says greedy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bot.inference.types import SamplingParams

__all__ = ["DIALECTS", "EXTRA_SETTINGS", "Dialect", "Wire", "detect", "off"]

EXTRA_SETTINGS = ("top_k", "repetition_penalty", "no_repeat_ngram_size", "num_beams")
_OFF: dict[str, float | int] = {"top_k": 0, "repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "num_beams": 1}


@dataclass(frozen=True)
class Dialect:
    name: str
    token_prompts: bool  # `prompt` may be a list of token ids (exactly what the bot trimmed)
    fields: Mapping[str, str] = field(default_factory=dict)  # setting -> request field, beyond OpenAI's
    top_k_off: int = 0  # the value that switches top-k off
    generation_config: bool = False  # settings travel in one `generation_config` JSON field
    max_stop: int = 16  # how many stop strings it takes


DIALECTS: dict[str, Dialect] = {
    dialect.name: dialect
    for dialect in (
        Dialect("vllm", True, {"top_k": "top_k", "repetition_penalty": "repetition_penalty"}, top_k_off=-1),
        Dialect("llama.cpp", True, {"top_k": "top_k", "repetition_penalty": "repeat_penalty"}),
        Dialect("tgi", False, {"repetition_penalty": "repetition_penalty"}, max_stop=4),
        Dialect("transformers", False, {s: "generation_config" for s in EXTRA_SETTINGS}, generation_config=True),
        Dialect("openai", False, max_stop=4),
    )
}


def detect(model_entry: Mapping[str, object]) -> str:
    """The server's kind from its `GET /v1/models` entry; `openai` when nothing gives it away."""
    if "max_model_len" in model_entry or model_entry.get("owned_by") == "vllm":
        return "vllm"
    if model_entry.get("owned_by") == "llamacpp":
        return "llama.cpp"
    if isinstance(model_entry.get("status"), Mapping):  # transformers serve: {"value": "loaded"}
        return "transformers"
    return "openai"


def off(setting: str, value: object) -> bool:
    """Whether `value` leaves this setting switched off (so not applying it changes nothing)."""
    return setting in _OFF and value == _OFF[setting]


@dataclass(frozen=True)
class Wire:
    """How requests to one server are written: its dialect, less the settings it turned down."""

    dialect: Dialect
    token_prompts: bool
    rejected: frozenset[str] = frozenset()  # settings whose field the server answered with a 4xx

    @classmethod
    def of(cls, name: str) -> Wire:
        dialect = DIALECTS[name]
        return cls(dialect, dialect.token_prompts)

    def describe(self) -> str:
        prompts = "token-id" if self.token_prompts else "text"
        return f"{self.dialect.name}: {prompts} prompts, applies {', '.join(self.applied()) or 'no extra settings'}"

    def applied(self) -> tuple[str, ...]:
        return tuple(s for s in EXTRA_SETTINGS if s in self.dialect.fields and s not in self.rejected)

    def not_applied(self) -> tuple[str, ...]:
        return tuple(s for s in EXTRA_SETTINGS if s not in self.applied())

    def without(self, settings: frozenset[str]) -> Wire:
        return replace(self, rejected=self.rejected | settings)

    def named_in(self, message: str) -> frozenset[str]:
        """Applied settings whose request field an error message names."""
        return frozenset(s for s in self.applied() if self.dialect.fields[s] in message)

    def streams(self, params: SamplingParams) -> bool:
        """transformers' beam search cannot stream; everything else does."""
        return not (self.dialect.generation_config and "num_beams" in self.applied() and params.num_beams > 1)

    def body(self, params: SamplingParams, stop_strings: tuple[str, ...], eos_token_id: int) -> dict[str, object]:
        """The request's fields other than `model`, `prompt` and `stream`."""
        greedy = not params.do_sample
        body: dict[str, object] = {"max_tokens": params.max_new_tokens}
        if stop_strings:
            body["stop"] = list(stop_strings[: self.dialect.max_stop])
        if params.seed is not None:
            body["seed"] = params.seed
        values = {s: getattr(params, s) for s in self.applied()}
        if self.dialect.generation_config:
            body["generation_config"] = json.dumps(_generation_config(params, values, eos_token_id))
            return body
        body["temperature"] = 0.0 if greedy else params.temperature
        if not greedy:
            body["top_p"] = params.top_p
        for setting, value in values.items():
            if setting == "top_k" and value == 0:
                value = self.dialect.top_k_off
            body[self.dialect.fields[setting]] = value
        return body


def _generation_config(params: SamplingParams, values: dict[str, object], eos_token_id: int) -> dict[str, object]:
    """A whole transformers GenerationConfig: it replaces the model's, so EOS and padding are named too."""
    config: dict[str, object] = {
        "do_sample": params.do_sample,
        "max_new_tokens": params.max_new_tokens,
        "eos_token_id": eos_token_id,
        "pad_token_id": eos_token_id,
        **values,
    }
    if params.do_sample:
        config |= {"temperature": params.temperature, "top_p": params.top_p, "top_k": values.get("top_k", 0)}
    else:
        config.pop("top_k", None)  # sampling settings on a greedy config only earn the server a warning
    return config
