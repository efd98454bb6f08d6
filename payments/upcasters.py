"""Old schema versions of the payments context's events, brought to the current one on reading
(stored history is never rewritten)."""

from __future__ import annotations

from typing import Any

from common.sealing import seal
from outbox.upcasting import upcaster


def _sealed_token(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "token": seal(payload.get("token", ""))}


@upcaster("payments.OrderPlacementNoted", from_version=1)
def seal_the_noted_token(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 noted the customer's payment token in clear; v2 notes it sealed."""
    return _sealed_token(payload)


@upcaster("payments.PaymentSettlementRequested", from_version=1)
def seal_the_requested_token(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 asked for the settlement with the token in clear; v2 asks with it sealed."""
    return _sealed_token(payload)
