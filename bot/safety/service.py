"""`Safety`: the chat pipeline's `bot.guard.Guard`, over the checker, the policies and the log.

`screen(where, user_id)` looks the policy up once (one database session) and returns a
`MessageScreen` that checks the message's input, each output attempt and its previews
under it. Every flag, block, redaction and regeneration writes a `ModerationEvent`, whose
`stage` says which check wrote it (see `bot.safety.store.ModerationEvent`).

Checks are CPU-bound. Short texts (most chat) are checked inline, which is cheaper than a
thread hop (p95 well under 1 ms, bench/safety_eval.py); longer ones run on a small worker
pool, so a long message never holds the event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bot import metrics
from bot.events import ChannelRef, Command, Reply, ReplyKind
from bot.guard import Decision
from bot.safety.categories import Action, Category, Direction
from bot.safety.checker import Checker, Verdict, apply_spans
from bot.safety.classifiers import ClassifierQueue
from bot.safety.commands import run_command
from bot.safety.mentions import detect_mentions
from bot.safety.pii import detect_pii, detect_secrets
from bot.safety.policy import EffectivePolicy, Preset, resolve
from bot.safety.store import ModerationEvent, SafetyStore, scope_keys

__all__ = ["EXCERPT_CHARS", "INLINE_CHARS", "MessageScreen", "Safety", "redact_for_log"]

log = logging.getLogger(__name__)

EXCERPT_CHARS = 200
INLINE_CHARS = 400  # longer texts are checked on the worker pool


def redact_for_log(text: str) -> str:
    """PII, secrets and mentions always redacted, whatever the policy says; then truncated."""
    hits = detect_secrets(text) + detect_pii(text) + detect_mentions(text)
    return apply_spans(text, hits)[:EXCERPT_CHARS]


@dataclass
class Safety:
    """Implements `bot.guard.Guard`."""

    store: SafetyStore
    checker: Checker
    default_preset: Preset = Preset.STANDARD
    log_content: bool = False  # the global default; a scope may override it
    classifier: ClassifierQueue | None = None  # safety.classifier, scored beside the rules (checker.py: how)
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=2, thread_name_prefix="safety"), repr=False
    )

    async def screen(self, where: ChannelRef, user_id: str) -> MessageScreen:
        return MessageScreen(self, await self.policy(where), where, user_id)

    async def run_command(self, args: str, command: Command) -> Reply:
        text, ephemeral = await run_command(self, args, command.where, command.author)
        return Reply(text, ReplyKind.COMMAND, ephemeral=ephemeral, reply_to=command.message_id)

    async def policy(self, where: ChannelRef) -> EffectivePolicy:
        """The policy in force in `where`: global → workspace → channel, one store call."""
        configs = await self.store.get_policies(scope_keys(where))
        return resolve(configs, self.default_preset, self.log_content)

    async def check(self, text: str, policy: EffectivePolicy, direction: Direction) -> Verdict:
        learned, model = await self._learned(text), self.classifier.name if self.classifier else ""
        if len(text) <= INLINE_CHARS:
            return self.checker.check(text, policy, direction, learned, model)
        loop = asyncio.get_running_loop()
        run = contextvars.copy_context().run  # the message's log context (its ref) goes along
        return await loop.run_in_executor(self._pool, run, self.checker.check, text, policy, direction, learned, model)

    async def _learned(self, text: str) -> Mapping[Category, float] | None:
        """The classifier's scores (waited for on its worker thread), or None: rules only."""
        if self.classifier is None:
            return None
        try:
            return await self.classifier.score(text)
        except Exception:  # an optional model must not take the rules down with it
            log.exception("safety classifier failed; this check uses the rules alone")
            return None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.classifier is not None:
            self.classifier.close()


class MessageScreen:
    """Implements `bot.guard.Screen` for one message."""

    def __init__(self, safety: Safety, policy: EffectivePolicy, where: ChannelRef, user_id: str) -> None:
        self._safety = safety
        self.policy = policy
        self._where = where
        self._user_id = user_id  # who wrote the input, and who the output answers

    async def check_input(self, text: str) -> Decision:
        verdict = await self._safety.check(text, self.policy, Direction.INPUT)
        await self._audit(verdict, text, "check")
        at_risk = verdict.blocked and Category.SELF_HARM in verdict.categories
        return Decision(verdict.blocked, verdict.text_out, verdict.ref, self_harm=at_risk)

    async def check_output(self, text: str, attempt: int, final: bool) -> Decision:
        verdict = await self._safety.check(text, self.policy, Direction.OUTPUT)
        stage = ("fallback" if final else "regenerate") if verdict.blocked else ("retry" if attempt else "check")
        await self._audit(verdict, text, stage)
        return Decision(verdict.blocked, verdict.text_out, verdict.ref)

    async def allows_preview(self, text: str) -> bool:
        verdict = await self._safety.check(text, self.policy, Direction.OUTPUT)
        return verdict.action is Action.ALLOW and verdict.text_out == text

    async def _audit(self, verdict: Verdict, text: str, stage: str) -> None:
        if verdict.action is Action.ALLOW:
            return
        metrics.record_safety([c.value for c in verdict.categories], verdict.direction.value, verdict.action.name)
        await self._safety.store.add_event(
            ModerationEvent(
                ref=verdict.ref,
                where=self._where,
                user_id=self._user_id,
                direction=verdict.direction,
                action=verdict.action,
                categories=verdict.categories,
                scores=verdict.scores,
                rule_ids=verdict.rule_ids,
                policy_version=self.policy.version,
                excerpt=redact_for_log(text) if self.policy.log_content else "",
                stage=stage,
            )
        )
