"""Stock-row drift the audit finds (invariant 2: a product's stock row disagreeing with its
events) is corrected by a command to inventory, which rewrites that one row from the events,
or is reported with the reason it cannot be.

Stock rows belong to no order, so the command goes to a stream of its own per product
(`saga.StockRepairs/<sku>`), with the actor and the evidence (the row's figures beside the
rebuilt ones) in its reason; inventory records the repair (`StockRowRepaired`, figures before
and after) on the product's stream, and re-checks the row when it handles the command.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from inventory import selectors as inventory
from inventory.events import StockRowRepairRequested
from outbox import store
from outbox.models import Event

STREAM = "saga.StockRepairs"


@dataclass(frozen=True)
class StockCorrection:
    sku: str
    sent: bool  # a repair command went to inventory
    reason: str  # what was found, and what is done (or why nothing can be)
    command_event_id: int | None = None


def correct_stock_drift(*, actor: str = "audit", dry_run: bool = False,
                        ) -> list[StockCorrection]:
    """One correction (or a reason why not) per stock row that disagrees with its events."""
    found = []
    for drift in inventory.stock_row_drift():
        row = f"the stock row of {drift.sku} says on hand {drift.on_hand}, held {drift.held}"
        if drift.rebuilt_on_hand is None:
            found.append(StockCorrection(drift.sku, False, f"{row}, but no event of the "
                                         "product exists: a rewrite would delete the row; a "
                                         "person must decide"))
        elif not drift.rebuild_is_sound:
            found.append(StockCorrection(
                drift.sku, False, f"{row}; its events say on hand {drift.rebuilt_on_hand}, held "
                f"{drift.rebuilt_held}, which breaks 0 <= held <= on hand itself: rewriting the "
                "row from them cannot make it right; a person must look at the events"))
        else:
            reason = (f"{row}; its events say on hand {drift.rebuilt_on_hand}, held "
                      f"{drift.rebuilt_held}; the row is rewritten from them")
            found.append(StockCorrection(drift.sku, not dry_run, reason,
                                         None if dry_run else _send(drift.sku, reason, actor)))
    return found


def _send(sku: str, reason: str, actor: str) -> int:
    with transaction.atomic():  # the command and its deliveries, or neither
        version = Event.objects.filter(stream_type=STREAM, stream_id=sku).count()
        rows = store.append(STREAM, sku, version, [StockRowRepairRequested(sku, reason)],
                            correlation_id=f"stock:{sku}", actor=actor)
    return rows[0].id
