"""Old schema versions of the orders context's events, brought to the current one on reading
(stored history is never rewritten)."""

from __future__ import annotations

from typing import Any

from common.sealing import seal
from outbox.upcasting import upcaster


@upcaster("orders.OrderPlaced", from_version=1)
def seal_the_payment_token(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 carried the customer's payment token in clear; v2 carries it sealed."""
    return {**payload, "payment_token": seal(payload.get("payment_token", ""))}
