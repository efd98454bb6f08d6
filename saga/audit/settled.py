"""The orders past their end (confirmed or cancelled), in batches: what invariants 3 and 4
check against the providers' books, a list call per batch."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import batched

from orders import selectors as orders
from orders.selectors import OrderState

BATCH = 500
SETTLED = ("confirmed", "cancelled")


def settled_orders() -> Iterator[list[OrderState]]:
    settled = [o for o in orders.every_order().values() if o.status in SETTLED]
    for batch in batched(settled, BATCH):
        yield list(batch)
