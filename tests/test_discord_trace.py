"""Discord REST routes as bounded metric labels."""

from __future__ import annotations

import pytest

from adapters.discord_trace import route_label


@pytest.mark.parametrize(
    ("method", "url", "label"),
    [
        ("post", "https://discord.com/api/v10/channels/1234567890123/messages", "POST /channels/{id}/messages"),
        ("PATCH", "http://127.0.0.1:5/api/v10/channels/30/messages/99", "PATCH /channels/{id}/messages/{id}"),
        ("POST", "https://discord.com/api/v10/webhooks/111/aW50ZXJhY3Rpb24", "POST /webhooks/{id}/{token}"),
        (
            "POST",
            "https://discord.com/api/v10/interactions/5551/aW50ZXJhY3/callback",
            "POST /interactions/{id}/{token}/callback",
        ),
        ("GET", "https://discord.com/api/v10/gateway/bot", "GET /gateway/bot"),
    ],
)
def test_routes_lose_their_ids_and_tokens(method: str, url: str, label: str) -> None:
    assert route_label(method, url) == label
