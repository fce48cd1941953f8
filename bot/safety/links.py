"""Links and invites: bare URLs, www. and bare domains, Markdown `[text](url)` and Slack
`<url|text>` links, and Discord invites. Domains on the allowlist (and their
subdomains) pass; everything else is a finding replaced by `[link removed]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.safety.categories import Category, Hit
from bot.safety.spans import Spans

__all__ = ["LINK_MARK", "detect_links", "domain_of"]

LINK_MARK = "[link removed]"
_TLDS = (
    "com|net|org|io|gg|co|uk|de|ru|xyz|ly|me|info|biz|app|dev|ai|tv|us|ca|fr|nl|cn|in|site|"
    "online|shop|top|link|click|gl|be|to|cc|live"
)
# Neither a masked link's text nor its target may contain the opening bracket, so an
# attempt never reads past the next one (linear on "[a]([a]([a](...").
_MARKDOWN = re.compile(r"\[[^\[\]\n]{0,200}\]\(\s*<?([^)(\[\s>]++)>?\s*\)")
_SLACK = re.compile(r"<((?:https?|ftp|mailto):[^|<>\s]++)(?:\|[^<>]*+)?>")
_INVITE = re.compile(r"(?:https?://)?(?:www\.)?(?:discord(?:app)?\.com/invite|discord\.gg|dsc\.gg)/[\w-]+", re.I)
# Linear on any input: a scheme or "www." attempt either fails within a few characters or
# matches and takes the rest of its run. A bare domain ("docs.example.com/x") is a run of
# dotted labels read once (possessively, and never from inside another run), whose last
# label is checked against the TLD list in code: the old `(?:[a-z0-9-]+\.)+(?:tld)`
# re-read every dotted run from each of its labels, quadratic on "a.a.a.a...".
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>()\"']+|\bwww\.[^\s<>()\"']+", re.I)
_HOST = re.compile(r"(?<![\w.-])[a-z0-9-]++(?:\.[a-z0-9-]++)++(?:/[^\s<>()\"']*+)?", re.I)
_TLD_SET = frozenset(_TLDS.split("|"))


def domain_of(url: str) -> str:
    host = re.sub(r"^[a-z]+://", "", url.strip("<>").lower()).split("/", 1)[0].split("|", 1)[0]
    host = host.split("@")[-1].split(":", 1)[0]
    return host[4:] if host.startswith("www.") else host


def _allowed(url: str, allow: Iterable[str]) -> bool:
    host = domain_of(url)
    return any(host == d or host.endswith("." + d) for d in allow)


def detect_links(text: str, allow: frozenset[str] = frozenset()) -> list[Hit]:
    hits: list[Hit] = []
    taken = Spans()

    def add(span: tuple[int, int], url: str, score: float, rule: str) -> None:
        if not taken.claim(*span):
            return
        if not _allowed(url, allow):
            hits.append(Hit(Category.LINK, score, rule, span, LINK_MARK))

    for m in _INVITE.finditer(text):
        add(m.span(), m.group(0), 1.0, "link.invite")
    for m in _MARKDOWN.finditer(text):
        add(m.span(), m.group(1), 0.8, "link.masked")
    for m in _SLACK.finditer(text):
        add(m.span(), m.group(1), 0.6, "link.url")
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(".,;:!?")
        add((m.start(), m.start() + len(url)), url, 0.6, "link.url")
    for m in _HOST.finditer(text):
        url = m.group(0).rstrip(".,;:!?")
        if "@" in text[max(0, m.start() - 1) : m.start()]:
            continue  # the domain of an email address, handled as PII
        labels = url.split("/", 1)[0].lower().split(".")
        if any(label in _TLD_SET for label in labels[1:]):  # "docs.example.com", "bbc.co.uk"
            add((m.start(), m.start() + len(url)), url, 0.6, "link.url")
    return hits
