"""Personal data: emails, phone numbers, postal addresses, card numbers (Luhn), IBANs, SSNs
and IP addresses. Each finding carries its span and the mark that replaces it (`[email]`,
`[phone]`, `[address]` ...). Secrets are `credentials.py`'s (re-exported here).

Phone numbers: a loose, linear candidate pattern, then Google's libphonenumber rules
(the `phonenumbers` package) decide: a number written with + and a country code must be a
possible number of that country (+49 30 12345678); one written nationally must be valid in
the US or the UK (the regions of most of the bot's users; a number valid only under some
other country's looser plan — German numbers accept almost any digit string — would
make version strings, tracking and part numbers phone numbers). A 7-digit local number
counts after a word that says it is one ("call me on 555 1234").

Postal addresses: a house number, one to four name words and a street type ("221B Baker
Street", "17 Rue de Rivoli"), widened over a following unit, town, state or postcode.
pyap (the address library) was measured here and not used: it missed 3 of the 8 address
cases in tests/fixtures/safety/pii_cases.tsv and took 1.7 s on 10,000 characters of "1 ".
"""

from __future__ import annotations

import re

import phonenumbers

from bot.safety.categories import Category, Hit
from bot.safety.credentials import detect_secrets
from bot.safety.spans import Spans

__all__ = ["NATIONAL_REGIONS", "detect_pii", "detect_secrets", "luhn_ok"]

NATIONAL_REGIONS = ("US", "GB")  # nationally written numbers must be valid in one of these
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,}\b"
)
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
# candidates only: each group is bounded and a candidate starts where no digit, letter or +
# precedes it, so the pattern reads each character a bounded number of times
_PHONE = re.compile(
    r"(?<![\w+.-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{1,6}(?:[ .-]\d{1,8}){0,5}(?!\w)(?![.-]\d)"
)
_SAID_PHONE = re.compile(
    r"\b(?:call|text|phone|number|cell|mobile|tel|whatsapp|sms|ring)\b[^\d\n]{0,20}?"
    r"(?<![\w.+-])(\d{3}[ .-]?\d{4})(?![\w.-])",
    re.IGNORECASE,
)
_LOCAL_PHONE = re.compile(r"\d{3}[-.]\d{4}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")
_IPV4 = re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")
_VERSION_BEFORE = re.compile(r"(?i)\b(?:version|ver|release|build|update|patch|firmware|v)\s{0,3}$")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_STREET_TYPE = (
    r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|way|court|ct|place|pl|terrace|close|"
    r"crescent|highway|hwy|parkway|pkwy|square|sq|row|gardens|grove|mews|walk|hill|circle|cir|trail|alley)"
)
_ADDRESS = re.compile(
    rf"(?<![\w.,-])\d{{1,5}}[A-Za-z]?,? (?:[A-Z][A-Za-z'-]{{1,30}} ){{1,4}}{_STREET_TYPE}\b\.?"
    rf"|(?<![\w.,-])\d{{1,5}}[A-Za-z]?,? (?:rue|via|calle|avenida|avenue|boulevard|chemin|place|piazza|plaza) "
    rf"(?:(?:de|du|des|la|le|del|della|di)\s)?(?:[A-Z][A-Za-z'-]{{1,30}})(?: [A-Z][A-Za-z'-]{{1,30}}){{0,2}}",
    re.IGNORECASE,
)
# what may follow an address: a direction, a unit, the town, a state and a postcode
_ADDRESS_TAIL = re.compile(
    r"(?: (?:NW|NE|SW|SE|N|S|E|W)\b)?(?:,? (?:apt|apartment|suite|unit|flat|#)\.? ?[\w-]{1,6})?"
    r"(?:, ?(?:\d{4,5} )?[A-Z][a-z][A-Za-z.'-]{0,29}(?: [A-Z][a-z][A-Za-z.'-]{0,29}){0,2})?"
    r"(?:,? (?:[A-Z]{2} \d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|\d{5}))?"
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _valid_phone(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if not 7 <= len(digits) <= 15:
        return False
    international = candidate.startswith("+")
    for region in (None,) if international else NATIONAL_REGIONS:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        # with a country code, a number of the right length for that country is enough
        # (fictional 555 numbers are still redacted); written nationally it must be valid
        if phonenumbers.is_valid_number(number) or (international and phonenumbers.is_possible_number(number)):
            return True
    return False


def _addresses(text: str) -> list[tuple[int, int]]:
    out = []
    for m in _ADDRESS.finditer(text):
        words = m.group(0).split()
        french = words[1].lower() in ("rue", "via", "calle", "avenida", "piazza", "chemin")
        names = words[1:-1]
        # the street's name is capitalised ("Elm Street"), or short ("42 elm street");
        # "the 42 bus goes down Elm Street" is neither
        if not french and not (all(w[:1].isupper() for w in names) or len(names) <= 2):
            continue
        tail = _ADDRESS_TAIL.match(text, m.end())
        out.append((m.start(), tail.end() if tail else m.end()))
    return out


def detect_pii(text: str) -> list[Hit]:
    hits: list[Hit] = []
    taken = Spans()

    def add(rule: str, start: int, end: int, mark: str, score: float = 1.0) -> None:
        if taken.claim(start, end):
            hits.append(Hit(Category.PII, score, rule, (start, end), mark, match=rule))

    for m in _EMAIL.finditer(text):
        add("pii.email", m.start(), m.end(), "[email]")
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and len(set(digits)) > 1:
            add("pii.card", m.start(), m.end(), "[card]")
    for m in _IBAN.finditer(text):
        add("pii.iban", m.start(), m.end(), "[iban]")
    for m in _SSN.finditer(text):
        add("pii.ssn", m.start(), m.end(), "[ssn]")
    for start, end in _addresses(text):
        add("pii.address", start, end, "[address]")
    for m in _IPV4.finditer(text):
        if not _VERSION_BEFORE.search(text[max(0, m.start() - 12) : m.start()]):
            add("pii.ip", m.start(), m.end(), "[ip]", 0.8)
    for m in _PHONE.finditer(text):
        candidate = m.group(0)
        if _valid_phone(candidate) or _LOCAL_PHONE.fullmatch(candidate):
            add("pii.phone", m.start(), m.end(), "[phone]")
    for m in _SAID_PHONE.finditer(text):
        add("pii.phone", m.start(1), m.end(1), "[phone]")
    return hits
