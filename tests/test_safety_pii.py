"""PII, secrets, mentions and links: found with spans and replaced by marks."""

from __future__ import annotations

import pytest

from bot.safety.checker import apply_spans
from bot.safety.links import detect_links
from bot.safety.mentions import detect_mentions
from bot.safety.pii import detect_pii, detect_secrets, luhn_ok


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe@example.com now", "mail [email] now"),
        ("call +1 (555) 123-4567", "call [phone]"),
        ("call 020 7946 0958", "call [phone]"),
        ("card 4111 1111 1111 1111", "card [card]"),
        ("IBAN DE89 3704 0044 0532 0130 00", "IBAN [iban]"),
        ("host 203.0.113.42", "host [ip]"),
        ("my number is 555-1234, call after six", "my number is [phone], call after six"),
        ("call me on 555 1234 tonight", "call me on [phone] tonight"),
        ("text me: 5551234", "text me: [phone]"),
    ],
)
def test_pii_is_redacted(text: str, expected: str) -> None:
    assert apply_spans(text, detect_pii(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "version 1.2.3",
        "we had 12,000 users in 2023",
        "card 4111 1111 1111 1112",
        "room 101 at 10:00",
        "scores were 120 4000 and 1234567",
        "order 1234567 shipped",
        "see pages 10-2024",
        "issue #555-1234x",
        "the number of users grew by 1500 2000 times",
    ],
)
def test_numbers_that_are_not_pii(text: str) -> None:
    assert detect_pii(text) == []


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


@pytest.mark.parametrize(
    "secret",
    [
        "MTA1NzQ4ODE1NjY1NTk4MzQ5OA.GhTqEk.abcdefghijklmnopqrstuvwxyz12345",
        "xoxb-1234567890-0987654321-AbCdEfGhIjKl",
        "xapp-1-A0123456789-1234567890123-abcdef",
        "ghp_" + "a1" * 18,
        "github_pat_11ABCDEFG0123456789_abcdefghij",
        "sk-proj-abcdefghijklmnopqrstuvwxyz123456",
        "AKIAIOSFODNN7EXAMPLE",
        "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
        "https://discord.com/api/webhooks/123456789012345678/abcDEF-123",
    ],
)
def test_secrets_are_found(secret: str) -> None:
    text = f"here: {secret} ok"
    hits = detect_secrets(text)
    assert hits and secret not in apply_spans(text, hits)


def test_mentions_are_neutralised() -> None:
    text = "@everyone @here <@&42> <@7> <!channel> <!here> <!everyone> <!subteam^S1|ops> <@U12AB>"
    out = apply_spans(text, detect_mentions(text))
    for ping in (
        "@everyone",
        "@here",
        "<@&42>",
        "<@7>",
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<!subteam",
        "<@U12AB>",
    ):
        assert ping not in out
    assert "@\u200beveryone" in out and "[role]" in out and "[user]" in out


def test_many_user_mentions_count_as_a_raid() -> None:
    hits = detect_mentions(" ".join(f"<@{i}>" for i in range(6)))
    assert {h.rule for h in hits} == {"mention.raid"}


def test_links_invites_and_allowlist() -> None:
    text = "see https://evil.xyz/a, [x](http://phish.io) and discord.gg/abc or docs.python.org"
    hits = detect_links(text, frozenset({"python.org"}))
    assert {h.rule for h in hits} == {"link.url", "link.masked", "link.invite"}
    out = apply_spans(text, hits)
    assert "evil.xyz" not in out and "phish.io" not in out and "discord.gg" not in out
    assert "docs.python.org" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call me at +49 30 12345678 tomorrow", "call me at [phone] tomorrow"),
        ("whatsapp me on +33 6 12 34 56 78", "whatsapp me on [phone]"),
        ("I live at 221B Baker Street, London NW1 6XE", "I live at [address]"),
        ("send it to 1600 Pennsylvania Ave NW, Washington, DC 20500", "send it to [address]"),
        ("she lives on 17 Rue de Rivoli, 75001 Paris", "she lives on [address]"),
    ],
)
def test_international_phones_and_addresses(text: str, expected: str) -> None:
    assert apply_spans(text, detect_pii(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "we're on version 10.2.3.4 now",
        "upgrade to v2.14.3.1 before friday",
        "fedex tracking 7489 2736 4512",
        "replacement part no. 4022-113-45678",
        "serial number SN 2019-0045-7781",
        "the 42 bus goes down Elm Street",
    ],
)
def test_versions_tracking_and_part_numbers_are_not_pii(text: str) -> None:
    assert detect_pii(text) == []


@pytest.mark.parametrize(
    "secret",
    [
        "npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",  # a bare npm token (ours: detect-secrets needs .npmrc)
        "//registry.npmjs.org/:_authToken=npm_Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo",  # detect-secrets' npm rule
        "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",  # detect-secrets' SendGrid rule
        "glpat-xxxxxxxxxxxxxxxxxxxx",  # detect-secrets' GitLab rule
    ],
)
def test_library_and_own_secret_rules(secret: str) -> None:
    text = f"token: {secret} ok"
    assert secret not in apply_spans(text, detect_secrets(text))
