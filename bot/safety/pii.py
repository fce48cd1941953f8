"""Personal data and secrets: emails, phone numbers, card numbers (Luhn), IBANs, IP
addresses, and API tokens, webhooks and private keys. Each finding carries its span and
the mark that replaces it (`[email]`, `[phone]`, `[token]` ...).
"""

from __future__ import annotations

import re

from bot.safety.categories import Category, Hit
from bot.safety.spans import Spans

__all__ = ["detect_pii", "detect_secrets", "luhn_ok"]

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,5}(?:[ .-]\d{2,6}){1,4}(?![\w])"
    r"|(?<![\w+])\+\d{8,15}(?!\w)|(?<![\w+])0\d{9,10}(?!\w)"
)
# A 7-digit local number: "555-1234" / "555.1234" on its own; with a space or no separator
# only right after a word that says it is a phone number ("call me on 555 1234").
_LOCAL_PHONE = re.compile(r"\d{3}[-.]\d{4}")
_SAID_PHONE = re.compile(
    r"\b(?:call|text|phone|number|cell|mobile|tel|whatsapp|sms|ring)\b[^\d\n]{0,20}?"
    r"(?<![\w.+-])(\d{3} ?\d{4})(?![\w.-])",
    re.IGNORECASE,
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")
_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")

_SECRETS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "secret.private_key",
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)"),
        "[private key]",
    ),
    ("secret.slack_webhook", re.compile(r"https?://hooks\.slack\.com/(?:services|workflows)/[\w/-]+"), "[webhook]"),
    (
        "secret.discord_webhook",
        re.compile(r"https?://(?:canary\.|ptb\.)?discord(?:app)?\.com/api/webhooks/\d+/[\w-]+"),
        "[webhook]",
    ),
    ("secret.slack_token", re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}"), "[token]"),
    ("secret.slack_app_token", re.compile(r"\bxapp-\d-[A-Za-z0-9-]{10,}"), "[token]"),
    ("secret.github_token", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b"), "[token]"),
    ("secret.github_pat", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}"), "[token]"),
    ("secret.discord_token", re.compile(r"\b[A-Za-z\d_-]{23,28}\.[A-Za-z\d_-]{6,7}\.[A-Za-z\d_-]{27,40}\b"), "[token]"),
    ("secret.openai_key", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}"), "[token]"),
    ("secret.stripe_key", re.compile(r"\b[rs]k_live_[0-9a-zA-Z]{20,}"), "[token]"),
    ("secret.aws_key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "[token]"),
    ("secret.google_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), "[token]"),
    (
        "secret.assignment",
        re.compile(r"(?i)\b(?:password|passwd|pwd|api[_-]?key|secret|token)\s*[:=]\s*[^\s'\"]{6,}"),
        "[secret]",
    ),
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def detect_secrets(text: str) -> list[Hit]:
    hits: list[Hit] = []
    for rule, rx, mark in _SECRETS:
        for m in rx.finditer(text):
            hits.append(Hit(Category.SECRET, 1.0, rule, (m.start(), m.end()), mark))
    return hits


def detect_pii(text: str) -> list[Hit]:
    hits: list[Hit] = []
    taken = Spans()

    def add(rule: str, m: re.Match[str], mark: str, score: float = 1.0, group: int = 0) -> None:
        start, end = m.start(group), m.end(group)
        if taken.claim(start, end):
            hits.append(Hit(Category.PII, score, rule, (start, end), mark))

    for m in _EMAIL.finditer(text):
        add("pii.email", m, "[email]")
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and len(set(digits)) > 1:
            add("pii.card", m, "[card]")
    for m in _IBAN.finditer(text):
        add("pii.iban", m, "[iban]")
    for m in _SSN.finditer(text):
        add("pii.ssn", m, "[ssn]")
    for m in _IPV4.finditer(text):
        add("pii.ip", m, "[ip]", 0.8)
    for m in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        international = m.group(0).startswith("+")
        local = _LOCAL_PHONE.fullmatch(m.group(0)) is not None
        if 10 <= len(digits) <= 15 or (international and len(digits) >= 8) or local:
            add("pii.phone", m, "[phone]")
    for m in _SAID_PHONE.finditer(text):
        add("pii.phone", m, "[phone]", group=1)
    return hits
