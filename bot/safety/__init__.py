"""Offline, layered safety filters for what people send the bot and what it posts.

    verdict = await safety.check_input(text, where, author)   # → Verdict
    verdict = await safety.check_output(text, where, attempt)  # raises → post nothing
    reply, ephemeral = await run_command(safety, "preset strict", where, author)

Layers: normalise → word rules → targeted hate / threat / harassment / sexual /
self-harm detectors → optional classifiers → PII, secrets, links, mentions; then the
channel → workspace → global policy, lifted to the hard floor, decides.
"""

from __future__ import annotations

from bot.safety.categories import Action, Category, Direction, Hit
from bot.safety.checker import Checker, Verdict
from bot.safety.commands import run_command
from bot.safety.policy import EffectivePolicy, PolicyConfig, Preset, Scope, resolve
from bot.safety.service import Safety, redact_for_log
from bot.safety.store import MemorySafetyStore, ModerationEvent, SafetyStore

__all__ = [
    "Action",
    "Category",
    "Checker",
    "Direction",
    "EffectivePolicy",
    "Hit",
    "MemorySafetyStore",
    "ModerationEvent",
    "PolicyConfig",
    "Preset",
    "Safety",
    "SafetyStore",
    "Scope",
    "Verdict",
    "redact_for_log",
    "resolve",
    "run_command",
]
