"""The confirmation e-mail is never sent twice, even when the delivery that sent it cannot
commit afterwards (its database connection lost, its worker killed): found by the chaos run,
where a terminated connection made the retry send a second e-mail."""

from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction

from inventory.events import ReservedLine, StockReserved
from orders.models import ConfirmationEmailDispatch
from outbox.models import Event
from payments.events import PaymentCaptured
from shipping.events import ShipmentBooked
from tests.support.delivery import deliver_pending, publish

# The note of the hand-over is written through the providers' connection, which commits on
# its own: the test database must not be one wrapping transaction.
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "providers"])


class CommitFailed(Exception):
    """Stands for the delivery's COMMIT failing after the handler ran."""


def confirmed_order(place) -> str:
    order_id = place("alice")
    publish(StockReserved(
        order_id, (ReservedLine("SKU-1", 2),), "2030-01-01T00:00:00+00:00"))
    publish(PaymentCaptured(order_id, Decimal("25.00"), "ch_1"))
    publish(ShipmentBooked(order_id, "sh_1", "TRK"))
    deliver_pending("orders.advance_order")
    return order_id


def test_a_send_whose_commit_failed_is_recorded_on_retry_but_not_sent_again(place):
    order_id = confirmed_order(place)
    with pytest.raises(CommitFailed), transaction.atomic():
        deliver_pending("orders.send_confirmation_email")  # the mail goes out ...
        raise CommitFailed  # ... and the delivery's transaction never commits

    assert len(mail.outbox) == 1
    assert not Event.objects.filter(event_type="orders.ConfirmationEmailSent").exists()

    deliver_pending("orders.send_confirmation_email")  # the retry

    assert len(mail.outbox) == 1
    assert Event.objects.filter(stream_id=order_id,
                                event_type="orders.ConfirmationEmailSent").count() == 1
    assert ConfirmationEmailDispatch.objects.using("providers").filter(
        order_id=order_id).exists()
