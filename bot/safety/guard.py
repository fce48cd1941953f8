"""`bot.guard.Guard` for the chat pipeline, backed by `bot.safety.Safety`.

`build_guard(config, store)` is what `bot.app` calls, with the SQL safety store;
tests may leave the store out and get the in-memory twin.
"""

from __future__ import annotations

import logging

from bot import guard as core
from bot.config import Config
from bot.events import Command, Event, Reply, ReplyKind
from bot.safety.categories import Action
from bot.safety.checker import Checker, Verdict
from bot.safety.classifiers import load_classifiers
from bot.safety.commands import run_command
from bot.safety.policy import Preset
from bot.safety.service import Safety
from bot.safety.store import MemorySafetyStore, SafetyStore

__all__ = ["SafetyGuard", "build_guard", "to_check"]

log = logging.getLogger(__name__)

_ACTIONS = {
    Action.ALLOW: core.Action.ALLOW,
    Action.FLAG: core.Action.FLAG,
    Action.CENSOR: core.Action.REDACT,
    Action.REDACT: core.Action.REDACT,
    Action.BLOCK: core.Action.BLOCK,
}


def to_check(verdict: Verdict, self_harm: bool = False) -> core.Check:
    return core.Check(_ACTIONS[verdict.action], verdict.text_out, verdict.ref, self_harm)


class SafetyGuard:
    def __init__(self, safety: Safety) -> None:
        self.safety = safety

    async def check_input(self, event: Event) -> core.Check:
        verdict = await self.safety.check_input(event.text, event.where, event.author)
        return to_check(verdict, self.safety.is_self_harm(verdict))

    async def check_output(self, text: str, event: Event, attempt: int) -> core.Check:
        return to_check(await self.safety.check_output(text, event.where, attempt, event.author.id))

    async def allows_preview(self, text: str, event: Event) -> bool:
        return await self.safety.allows_preview(text, event.where)

    async def run_command(self, args: str, command: Command) -> Reply:
        text, ephemeral = await run_command(self.safety, args, command.where, command.author)
        return Reply(text, ReplyKind.COMMAND, ephemeral=ephemeral, reply_to=command.message_id)


async def build_guard(config: Config, store: SafetyStore | None = None) -> SafetyGuard:
    """The guard for `config.safety`; policies and the moderation log go to `store` (memory if None)."""
    section = config.safety
    if store is None:
        log.info("safety policies and moderation log are kept in memory")
    classifiers = load_classifiers(section.classifiers, section.checkpoint)
    return SafetyGuard(
        Safety(
            store=store or MemorySafetyStore(),
            checker=Checker(classifiers),
            default_preset=Preset(section.preset),
            log_content=section.log_content,
        )
    )
