"""Run every layer over a text and decide, under a policy, what happens to it.

`Checker.scan()` collects `Hit`s (normalise → word rules → hate/harm detectors →
optional classifiers → PII, secrets, links, mentions); `decide()` turns them into a
`Verdict`: the most severe action of any category wins, and spans whose category says
redact or censor are replaced in `text_out`. A redact/censor decision for a finding that
has no span to replace becomes a block. Detector errors propagate: callers fail closed.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from bot.logs import current_ref
from bot.safety.categories import Action, Category, Direction, Hit
from bot.safety.classifiers import Classifier
from bot.safety.harms import detect_harms
from bot.safety.hate import detect_hate
from bot.safety.links import detect_links
from bot.safety.mentions import detect_mentions
from bot.safety.normalise import normalise
from bot.safety.pii import detect_pii, detect_secrets
from bot.safety.policy import EffectivePolicy
from bot.safety.rules import WordLists, scan_words

__all__ = ["Checker", "Verdict", "apply_spans", "new_ref"]

log = logging.getLogger(__name__)


def new_ref() -> str:
    """The reference of the message being checked, so a refusal and its log lines share it."""
    return current_ref() or secrets.token_hex(4)


@dataclass(frozen=True)
class Verdict:
    action: Action
    categories: tuple[Category, ...]  # categories that reached at least "flag"
    scores: Mapping[Category, float]  # highest score per category that fired at all
    rule_ids: tuple[str, ...]
    text_out: str  # the text to use: redacted/censored where the policy says so
    ref: str
    direction: Direction

    @property
    def blocked(self) -> bool:
        return self.action is Action.BLOCK


def apply_spans(text: str, hits: Sequence[Hit]) -> str:
    """Replace each hit's span by its mark; earlier (higher-priority) hits win overlaps."""
    chosen: list[Hit] = []
    for hit in hits:
        if hit.span and not any(c.span and c.span[0] < hit.span[1] and hit.span[0] < c.span[1] for c in chosen):
            chosen.append(hit)
    for hit in sorted(chosen, key=lambda h: h.span[0] if h.span else 0, reverse=True):
        assert hit.span is not None
        text = text[: hit.span[0]] + hit.mark + text[hit.span[1] :]
    return text


class Checker:
    """Stateless apart from the classifiers it was given; safe to share across tasks."""

    def __init__(self, classifiers: Sequence[Classifier] = ()) -> None:
        self._classifiers = tuple(classifiers)

    def scan(self, text: str, words: WordLists, allowed_domains: frozenset[str]) -> list[Hit]:
        # span-bearing detectors first, most important marks first (they win overlaps)
        hits = detect_secrets(text) + detect_pii(text) + detect_mentions(text)
        hits += detect_links(text, allowed_domains) + scan_words(text, words)
        norm = normalise(text)
        hits += detect_hate(norm) + detect_harms(norm)
        for clf in self._classifiers:
            try:
                scores = clf.score(text)
            except Exception:  # an optional model must not take the rules down with it
                log.exception("classifier %s failed; continuing with the rules", clf.name)
                continue
            hits += [Hit(c, s, f"clf.{clf.name}") for c, s in scores.items()]
        return hits

    def decide(self, text: str, hits: Sequence[Hit], policy: EffectivePolicy, direction: Direction) -> Verdict:
        best: dict[Category, float] = {}
        for hit in hits:
            best[hit.category] = max(best.get(hit.category, 0.0), hit.score)
        action = Action.ALLOW
        fired: list[Category] = []
        to_apply: list[Hit] = []
        for category, score in best.items():
            rule = policy.rule(category, direction)
            if score >= rule.threshold and rule.action > Action.ALLOW:
                step = rule.action
                if step in (Action.REDACT, Action.CENSOR):
                    spans = [h for h in hits if h.category is category and h.span and h.score >= rule.threshold]
                    step = step if spans else Action.BLOCK
                    to_apply += spans
            elif score >= rule.flag_at and rule.action > Action.ALLOW:
                step = Action.FLAG
            else:
                continue
            fired.append(category)
            action = max(action, step)
        ordered = [h for h in hits if h in to_apply]
        rule_ids = tuple(dict.fromkeys(h.rule for h in hits if h.category in fired))
        return Verdict(
            action=action,
            categories=tuple(fired),
            scores=MappingProxyType({c: round(s, 3) for c, s in best.items()}),
            rule_ids=rule_ids,
            text_out=apply_spans(text, ordered),
            ref=new_ref() if action > Action.ALLOW else "",
            direction=direction,
        )

    def check(self, text: str, policy: EffectivePolicy, direction: Direction) -> Verdict:
        hits = self.scan(text, policy.words, policy.allowed_domains)
        return self.decide(text, hits, policy, direction)
