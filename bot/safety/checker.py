"""Run every layer over a text and decide, under a policy, what happens to it.

`Checker.scan()` collects `Hit`s (normalise → word rules → hate/harm detectors →
optional classifiers → PII, secrets, links, mentions); `decide()` turns them into a
`Verdict`: the most severe action of any category wins, and spans whose category says
redact or censor are replaced in `text_out`. A redact/censor decision for a finding that
has no span to replace becomes a block. Detector errors propagate: callers fail closed.

How a learned model's scores (`bot.safety.classifiers`) join the rules, in `check(...,
learned=...)`: each category's score becomes a hit `clf.<model>` beside the rules' hits,
and the highest score per category decides, so the model adds what rules miss (new
groups, implicit hate, threats in plain words), with two exceptions where rules are the
stronger judge:
  * pii, secret, link and mention come from the rules only;
  * where the rules read the evidence of a category as counter-speech, quotation,
    reclaimed use, someone else's view or a mention (a hit whose rule ends in `.counter`,
    `.reclaimed`, `.described` or `.mention`), the model's score in that category stays
    just under the policy's threshold: it can flag the text for a moderator, never block it.
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
from bot.safety.spans import Spans

__all__ = ["RULES_ONLY", "Checker", "Verdict", "apply_spans", "combine", "new_ref"]

RULES_ONLY = frozenset({Category.PII, Category.SECRET, Category.LINK, Category.MENTION})
_READ_AS_SPEECH = (".counter", ".reclaimed", ".described", ".mention")

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
    taken = Spans()
    chosen = [hit for hit in hits if hit.span and hit.span[1] > hit.span[0] and taken.claim(*hit.span)]
    pieces: list[str] = []
    pos = 0
    for hit in sorted(chosen, key=lambda h: h.span[0] if h.span else 0):
        assert hit.span is not None
        pieces += [text[pos : hit.span[0]], hit.mark]
        pos = hit.span[1]
    return "".join([*pieces, text[pos:]])


class Checker:
    """Stateless apart from the classifiers it was given; safe to share across tasks."""

    def __init__(self, classifiers: Sequence[Classifier] = ()) -> None:
        self._classifiers = tuple(classifiers)

    def scan(self, text: str, words: WordLists, allowed_domains: frozenset[str]) -> list[Hit]:
        # span-bearing detectors first, most important marks first (they win overlaps)
        hits = detect_secrets(text) + detect_pii(text) + detect_mentions(text)
        norm = normalise(text)
        hits += detect_links(text, allowed_domains) + scan_words(text, words, norm)
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
        applied = {id(h) for h in to_apply}
        ordered = [h for h in hits if id(h) in applied]
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

    def check(
        self,
        text: str,
        policy: EffectivePolicy,
        direction: Direction,
        learned: Mapping[Category, float] | None = None,
        model: str = "model",
    ) -> Verdict:
        """`learned`: a model's scores for this text, combined with the rules as the module says."""
        hits = self.scan(text, policy.words, policy.allowed_domains)
        if learned:
            hits += combine(hits, learned, policy, direction, model)
        return self.decide(text, hits, policy, direction)


def combine(
    rule_hits: Sequence[Hit],
    learned: Mapping[Category, float],
    policy: EffectivePolicy,
    direction: Direction,
    model: str,
) -> list[Hit]:
    """The model's scores as hits, under the combination rule in the module docstring."""
    out: list[Hit] = []
    for category, score in learned.items():
        if category in RULES_ONLY:
            continue
        speech = [h for h in rule_hits if h.category is category and h.rule.endswith(_READ_AS_SPEECH)]
        if speech:
            score = min(score, max(0.0, policy.rule(category, direction).threshold - 0.01))
        out.append(Hit(category, round(score, 3), f"clf.{model}", match=f"{model} {category.value} {score:.2f}"))
    return out
