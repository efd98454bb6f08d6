"""Invariant 6: every read model equals what its events say, row by row.

Each context compares its own rows with a rebuild by its own folding code (its selectors'
`read_model_drift`); the saga rows are compared here, with the saga's own fold.
"""

from __future__ import annotations

from inventory import selectors as inventory
from orders import selectors as orders
from outbox.models import Event
from outbox.read_model_check import ReadModelComparison, compare_rows
from payments import selectors as payments
from saga.audit.check import Check
from saga.models import OrderSaga
from saga.projections import FACT_FIELDS
from saga.rebuild import fold_events
from shipping import selectors as shipping


def check_read_models() -> Check:
    check = Check(6, "the read models equal a rebuild from the event store")
    found = (orders.read_model_drift() + inventory.read_model_drift()
             + shipping.read_model_drift() + payments.read_model_drift() + _sagas())
    check.checked = found.checked
    check.violations.extend(found.differences)
    return check


def _sagas() -> ReadModelComparison:
    rows = Event.objects.exclude(correlation_id="").order_by("id").iterator(chunk_size=5000)
    return compare_rows("saga", fold_events(rows).values(), OrderSaga.objects.all(),
                        fields=(*FACT_FIELDS, "order_id"))
