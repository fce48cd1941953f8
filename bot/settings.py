"""Per-channel settings: the schema (keys, types, bounds), parsing, and resolution.

A channel's effective settings are the config's `[generation]` defaults overlaid with the
overrides moderators stored for that channel. Stored values are raw strings, validated
again on every read, so a bad row can never reach the model.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

from bot import messages
from bot.config import BotSection, Config, GenerationSection
from bot.errors import CommandError
from bot.inference.types import SamplingParams
from bot.store import ChannelState

__all__ = ["SETTINGS", "ChannelSettings", "SettingSpec", "for_channel", "format_value", "resolve"]

log = logging.getLogger(__name__)

_TRUE = {"on", "true", "yes", "1"}
_FALSE = {"off", "false", "no", "0"}


@dataclass(frozen=True)
class SettingSpec:
    key: str
    kind: type  # float, int, bool or str
    help: str
    lo: float = 0.0
    hi: float = 0.0
    lo_open: bool = False  # (lo, hi] instead of [lo, hi]
    max_len: int = 0  # for str

    @property
    def bounds(self) -> str:
        if self.kind is bool:
            return "on or off"
        if self.kind is str:
            return f"at most {self.max_len} characters"
        lo, hi = _num(self.lo), _num(self.hi)
        if self.lo_open:
            return f"greater than {lo} and at most {hi}"
        whole = "a whole number " if self.kind is int else ""
        return f"{whole}from {lo} to {hi}"

    def parse(self, raw: str) -> float | int | bool | str:
        """Parse a user's value; raise CommandError naming the bounds."""
        value = raw.strip()
        if self.kind is str:
            if len(value) > self.max_len:
                raise CommandError(messages.bad_value(self.key, value[:40] + "…", self.bounds))
            return value
        if self.kind is bool:
            if value.lower() in _TRUE:
                return True
            if value.lower() in _FALSE:
                return False
            raise CommandError(messages.bad_value(self.key, value, self.bounds))
        try:
            number = int(value) if self.kind is int else float(value)
        except ValueError:
            raise CommandError(messages.bad_value(self.key, value, self.bounds)) from None
        too_low = number <= self.lo if self.lo_open else number < self.lo
        if not math.isfinite(number) or too_low or number > self.hi:
            raise CommandError(messages.bad_value(self.key, value, self.bounds))
        return number


SETTINGS: dict[str, SettingSpec] = {
    spec.key: spec
    for spec in (
        SettingSpec("temperature", float, "randomness; 0 = always the likeliest word", 0, 2),
        SettingSpec("top_k", int, "sample among the k likeliest tokens (0 = off)", 0, 1000),
        SettingSpec("top_p", float, "sample within this probability mass (1 = off)", 0, 1, lo_open=True),
        SettingSpec("repetition_penalty", float, "discourage repeating tokens (1 = off)", 1, 2),
        SettingSpec("no_repeat_ngram_size", int, "never repeat a phrase of this many tokens (0 = off)", 0, 10),
        SettingSpec("num_beams", int, "beam search width (1 = off; slower)", 1, 8),
        SettingSpec("max_new_tokens", int, "longest reply, in tokens", 1, 512),
        SettingSpec("do_sample", bool, "sample (on) or pick the likeliest tokens (off)"),
        SettingSpec("persona", str, "a line that sets the bot's character", max_len=500),
    )
}


@dataclass(frozen=True)
class ChannelSettings:
    temperature: float
    top_k: int
    top_p: float
    repetition_penalty: float
    no_repeat_ngram_size: int
    num_beams: int
    max_new_tokens: int
    do_sample: bool
    persona: str
    enabled: bool = False

    def sampling(self, seed: int | None = None) -> SamplingParams:
        """Sampling parameters for the engine; temperature 0 means greedy decoding."""
        greedy = not self.do_sample or self.temperature == 0
        return SamplingParams(
            temperature=self.temperature if not greedy else 1.0,
            top_k=self.top_k,
            top_p=self.top_p,
            repetition_penalty=self.repetition_penalty,
            no_repeat_ngram_size=self.no_repeat_ngram_size,
            num_beams=self.num_beams,
            max_new_tokens=self.max_new_tokens,
            do_sample=not greedy,
            seed=seed,
        )

    def value(self, key: str) -> str:
        return format_value(getattr(self, key))


def resolve(
    defaults: GenerationSection, bot: BotSection, overrides: Mapping[str, str], enabled: bool = False
) -> ChannelSettings:
    """Defaults overlaid with a channel's stored overrides (invalid rows are logged and ignored)."""
    values: dict[str, object] = dataclasses.asdict(defaults)
    values["persona"] = bot.persona
    for key, raw in overrides.items():
        spec = SETTINGS.get(key)
        if spec is None:
            log.warning("ignoring stored setting %r: not a setting any more", key)
            continue
        try:
            values[key] = spec.parse(raw)
        except CommandError:
            log.warning("ignoring stored setting %s=%r: out of bounds", key, raw)
    return ChannelSettings(**values, enabled=enabled)  # type: ignore[arg-type]


def for_channel(config: Config, state: ChannelState) -> ChannelSettings:
    """A channel's effective settings from the config's defaults and its stored state."""
    return resolve(config.generation, config.bot, state.overrides, state.enabled)


def format_value(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, str):
        return value or "(none)"
    return str(value)


def _num(value: float) -> str:
    return f"{value:g}"
