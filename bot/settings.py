"""Per-channel settings: the `/gpt2 set` keys, parsing, and resolution.

The keys are the config fields marked `setting` (every `[generation]` field, and `bot.persona`):
their defaults, bounds, help and validation come from the config schema (`bot.rules`), so a new
setting is added in one place. A channel's effective settings are the config's defaults overlaid
with the overrides moderators stored for that channel. Stored values are raw strings, validated
again on every read, so a bad row can never reach the model.
"""

from __future__ import annotations

import dataclasses
import logging
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot import messages, rules
from bot.config import BotSection, Config, GenerationSection
from bot.errors import CommandError
from bot.inference.types import SamplingParams
from bot.store import ChannelState

__all__ = [
    "SETTINGS",
    "ChannelSettings",
    "SettingSpec",
    "for_channel",
    "format_value",
    "resolve",
    "sampling_params",
]

log = logging.getLogger(__name__)

_BOOL_WORDS = "on or off"  # how chat spells booleans (`show` prints on/off)
_SHOWN_CHARS = 40


@dataclass(frozen=True)
class SettingSpec:
    key: str
    kind: type  # float, int, bool or str
    help: str
    rules: Mapping[str, Any]  # the config field's metadata

    @classmethod
    def of(cls, section: type, field: dataclasses.Field[Any]) -> SettingSpec:
        kind = typing.get_type_hints(section)[field.name]
        return cls(field.name, kind, field.metadata["doc"], field.metadata)

    @property
    def bounds(self) -> str:
        return rules.describe(self.kind, self.rules, bool_words=_BOOL_WORDS)

    def parse(self, raw: str) -> float | int | bool | str:
        """Parse a user's value; raise CommandError naming the bounds."""
        try:
            value: float | int | bool | str = rules.parse(raw, self.kind, self.rules, bool_words=_BOOL_WORDS)
        except rules.Invalid:
            shown = raw.strip()
            if self.kind is str or len(shown) > _SHOWN_CHARS:
                shown = shown[:_SHOWN_CHARS] + "…"
            raise CommandError(messages.bad_value(self.key, shown, self.bounds)) from None
        return value


def _settings(*sections: type) -> dict[str, SettingSpec]:
    return {
        field.name: SettingSpec.of(section, field)
        for section in sections
        for field in dataclasses.fields(section)
        if field.metadata.get("setting")
    }


SETTINGS: dict[str, SettingSpec] = _settings(GenerationSection, BotSection)


@dataclass(frozen=True)
class ChannelSettings(GenerationSection):
    """A channel's generation settings (every `[generation]` field), its persona and auto-reply."""

    persona: str = ""
    enabled: bool = False

    def sampling(self, seed: int | None = None) -> SamplingParams:
        """Sampling parameters for the engine (its fields are settings of the same name);
        temperature 0 means greedy decoding."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(SamplingParams) if f.name != "seed"}
        greedy = not self.do_sample or self.temperature == 0
        values |= {"temperature": 1.0 if greedy else self.temperature, "do_sample": not greedy}
        return SamplingParams(**values, seed=seed)

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


def sampling_params(**changes: Any) -> SamplingParams:
    """SamplingParams with the config's default settings, `changes` applied (for tests and benchmarks)."""
    return dataclasses.replace(resolve(GenerationSection(), BotSection(), {}).sampling(), **changes)


def for_channel(config: Config, state: ChannelState) -> ChannelSettings:
    """A channel's effective settings from the config's defaults and its stored state."""
    return resolve(config.generation, config.bot, state.overrides, state.enabled)


def format_value(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value or "(none)"
    return str(value)
