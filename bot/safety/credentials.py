"""Secrets: API tokens, webhooks and private keys, found with spans and replaced by marks.

The patterns are detect-secrets' (Yelp, Apache-2.0, offline: only its `verify` methods
would reach the network, and they are never called): every regex-based plugin that names
a token format, so new formats arrive with the library instead of being written here. Its
keyword, entropy and IP plugins are left out (they fire on ordinary chat). Each pattern is
compiled with RE2 (google-re2: linear time on any input, which three of detect-secrets'
patterns are not under Python's backtracking `re`), except the few RE2 cannot express
(look-arounds), which have bounded quantifiers after a fixed prefix and stay linear.

Our own rules cover only what detect-secrets 1.5 misses, each measured on
tests/fixtures/safety/pii_cases.tsv: bare npm tokens (its rule needs an .npmrc line),
Slack app tokens, GitHub fine-grained PATs, OpenAI project keys (its rule knows only
legacy keys), Google API keys, Discord webhooks and full Discord bot tokens, whole
private-key blocks (its rule matches the header line), and `password = ...` assignments.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from bot.safety.categories import Category, Hit

__all__ = ["detect_secrets", "library_patterns"]

# detect-secrets plugins that fire on ordinary text rather than on a token format
_SKIP_PLUGINS = frozenset(
    {
        "KeywordDetector",
        "Base64HighEntropyString",
        "HexHighEntropyString",
        "IPPublicDetector",
        "CloudantDetector",
        "IbmCloudIamDetector",
        "IbmCosHmacDetector",
        "SoftlayerDetector",
    }
)
_OWN: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "secret.private_key",
        re.compile(
            r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----(?:(?!-----(?:END|BEGIN))[\s\S]){0,20000}"
            r"(?:-----END [A-Z ]{0,40}PRIVATE KEY-----)?"
        ),
        "[private key]",
    ),
    (
        "secret.discord_webhook",
        re.compile(r"https?://(?:canary\.|ptb\.)?discord(?:app)?\.com/api/webhooks/\d+/[\w-]+"),
        "[webhook]",
    ),
    ("secret.slack_workflow", re.compile(r"https?://hooks\.slack\.com/(?:workflows|triggers)/[\w/-]+"), "[webhook]"),
    ("secret.slack_app_token", re.compile(r"\bxapp-\d-[A-Za-z0-9-]{10,}"), "[token]"),
    ("secret.github_pat", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}"), "[token]"),
    ("secret.discord_token", re.compile(r"\b[A-Za-z\d_-]{23,28}\.[A-Za-z\d_-]{6,7}\.[A-Za-z\d_-]{27,40}\b"), "[token]"),
    ("secret.openai_key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}"), "[token]"),
    ("secret.google_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), "[token]"),
    ("secret.npm_token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), "[token]"),
    (
        "secret.assignment",
        re.compile(r"(?i)\b(?:password|passwd|pwd|api[_-]?key|secret|token)\s{0,5}[:=]\s{0,5}[^\s'\"]{6,}"),
        "[secret]",
    ),
)


def _compile(pattern: re.Pattern[str]) -> Any:
    """RE2 when it can express the pattern (linear time by construction), else `re`."""
    source = pattern.pattern
    if any(x in source for x in ("(?<", "(?=", "(?!")) or pattern.flags & re.VERBOSE:
        return pattern
    import re2

    return re2.compile(("(?i)" if pattern.flags & re.IGNORECASE else "") + source)


@cache
def library_patterns() -> tuple[tuple[str, Any], ...]:
    """(rule id, compiled pattern) for each token format detect-secrets knows."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    out: list[tuple[str, Any]] = []
    plugins: list[type[Any]] = list(get_mapping_from_secret_type_to_class().values())
    for plugin in sorted(plugins, key=lambda p: p.__name__):
        if plugin.__name__ in _SKIP_PLUGINS or not issubclass(plugin, RegexBasedDetector):
            continue
        name = plugin.__name__.removesuffix("Detector").lower()
        for pattern in plugin().denylist:
            if "key|pwd|pw|password" in pattern.pattern:  # a keyword rule inside a token plugin
                continue
            out.append((f"secret.{name}", _compile(pattern)))
    return tuple(out)


def _matches(text: str) -> Iterator[tuple[str, int, int, str]]:
    for rule, rx, mark in _OWN:
        for m in rx.finditer(text):
            yield rule, m.start(), m.end(), mark
    for rule, rx in library_patterns():
        for m in rx.finditer(text):
            yield rule, m.start(), m.end(), "[token]"


def detect_secrets(text: str) -> list[Hit]:
    return [
        Hit(Category.SECRET, 1.0, rule, (start, end), mark, match=rule)
        for rule, start, end, mark in _matches(text)
        if end > start
    ]
