"""Payments' reactions, run the way a worker runs them: events appended with their deliveries,
then each payments delivery run by `outbox.delivery.run_delivery` (lock, handler, done, one
transaction) against the real PostgreSQL. The provider's ledger commits on its own connection.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import override_settings

from orders.events import OrderCancelled
from outbox import registry, store
from outbox.contracts import DomainEvent
from outbox.delivery import DeliveryResult
from outbox.models import Delivery
from payments import services
from payments.domain import Payment
from payments.events import PaymentCaptured, PaymentDeclined, PaymentRefunded
from payments.gateway import SimulatedGateway
from payments.models import GatewayCall, GatewayLedgerEntry, PaymentSnapshot
from payments.tests.facts import TOTAL, held, placed
from shipping.events import ShipmentFailed
from tests.support.delivery import announce, deliver, publish, stream_events

pytestmark = [pytest.mark.django_db(databases=["default", "providers"]),
              pytest.mark.usefixtures("provider_connection_closed_after")]

@pytest.fixture
def order_id() -> str:
    return uuid.uuid4().hex  # provider rows commit on their own connection: keep tests apart


def charge_on(event: DomainEvent) -> DeliveryResult:
    return announce(event, "payments.charge_payment")


def refund_on(event: DomainEvent) -> DeliveryResult:
    return announce(event, "payments.refund_payment")


def payment_events(order_id: str) -> list[DomainEvent]:
    return stream_events("payments.Payment", order_id)


def of_type(order_id: str, cls: type) -> list:
    return [e for e in payment_events(order_id) if isinstance(e, cls)]


def ledger_net(order_id: str) -> Decimal:
    return SimulatedGateway().charges_for([order_id])[order_id].net


def charge_rows(order_id: str) -> int:
    return GatewayLedgerEntry.objects.using("providers").filter(
        order_id=order_id, kind="charge").count()


def test_the_handlers_subscribe_under_their_stable_names():
    def names(event_type: str) -> set[str]:
        return {s.name for s in registry.subscriptions(event_type)}

    assert "payments.charge_payment" in names("orders.OrderPlaced")
    assert "payments.charge_payment" in names("inventory.StockReserved")
    assert "payments.refund_payment" in names("shipping.ShipmentFailed")
    assert "payments.refund_payment" in names("orders.OrderCancelled")


def test_an_order_placed_and_held_is_charged_once(order_id):
    assert charge_on(placed(order_id)) == DeliveryResult.DONE
    assert of_type(order_id, PaymentCaptured) == []
    [reserved] = publish(held(order_id))
    assert deliver(reserved, "payments.charge_payment") == DeliveryResult.DONE
    [captured] = store.read_stream("payments.Payment", order_id)[-1:]
    assert isinstance(captured.event, PaymentCaptured) and captured.event.amount == TOTAL
    assert captured.correlation_id == order_id
    assert captured.causation_id == str(reserved.id)
    assert ledger_net(order_id) == TOTAL
    snapshot = PaymentSnapshot.objects.get(stream_id=order_id).state
    assert (snapshot["status"], snapshot["net"]) == ("captured", "32.25")


def test_stock_held_before_the_order_is_known_still_charges_once_both_are_known(order_id):
    charge_on(held(order_id))
    assert charge_rows(order_id) == 0
    charge_on(placed(order_id))
    assert [e.amount for e in of_type(order_id, PaymentCaptured)] == [TOTAL]


def test_every_event_delivered_twice_charges_once(order_id):
    charge_on(placed(order_id))
    [reserved] = publish(held(order_id))
    assert deliver(reserved, "payments.charge_payment") == DeliveryResult.DONE
    assert deliver(reserved, "payments.charge_payment") == DeliveryResult.SKIPPED
    charge_on(held(order_id))  # the same fact announced again (a renewed hold), a new event
    assert len(of_type(order_id, PaymentCaptured)) == 1
    assert charge_rows(order_id) == 1


def test_a_declined_card_is_a_normal_outcome_not_a_retry(order_id):
    charge_on(placed(order_id, "tok_decline"))
    assert charge_on(held(order_id)) == DeliveryResult.DONE
    assert of_type(order_id, PaymentDeclined) == [PaymentDeclined(order_id, "payment declined")]
    assert of_type(order_id, PaymentCaptured) == []
    assert charge_rows(order_id) == 0


def test_a_lost_gateway_response_goes_forward_to_captured_without_a_second_charge(order_id):
    charge_on(placed(order_id, "tok_lost_response"))
    assert charge_on(held(order_id)) == DeliveryResult.DONE
    [captured] = of_type(order_id, PaymentCaptured)
    assert charge_rows(order_id) == 1
    assert GatewayLedgerEntry.objects.using("providers").get(order_id=order_id).entry_id == (
        captured.charge_id)


def test_a_flaky_gateway_is_retried_by_the_delivery_until_it_charges(order_id):
    charge_on(placed(order_id, "tok_flaky"))
    [reserved] = publish(held(order_id))
    assert deliver(reserved, "payments.charge_payment") == DeliveryResult.RETRY
    assert of_type(order_id, PaymentCaptured) == []
    assert deliver(reserved, "payments.charge_payment") == DeliveryResult.RETRY
    assert deliver(reserved, "payments.charge_payment") == DeliveryResult.DONE
    assert len(of_type(order_id, PaymentCaptured)) == 1
    assert Delivery.objects.get(event=reserved, handler="payments.charge_payment").attempts == 3
    assert GatewayCall.objects.using("providers").filter(
        idempotency_key=f"order-{order_id}-charge").count() == 3
    assert charge_rows(order_id) == 1


@override_settings(PAYMENTS_FAULTS="error=1")
def test_a_transient_gateway_error_records_nothing_and_retries(order_id):
    charge_on(placed(order_id))
    assert charge_on(held(order_id)) == DeliveryResult.RETRY
    assert of_type(order_id, PaymentCaptured) == []
    assert charge_rows(order_id) == 0


class WorkerDied(Exception):
    pass


def test_a_charge_whose_transaction_rolled_back_is_not_charged_again(order_id):
    charge_on(placed(order_id))
    # The provider took the money, then our transaction was lost before it committed.
    with pytest.raises(WorkerDied), transaction.atomic():
        services.charge_payment(order_id, stock_held=True)
        raise WorkerDied
    assert of_type(order_id, PaymentCaptured) == [] and charge_rows(order_id) == 1
    charge_on(held(order_id))
    [captured] = of_type(order_id, PaymentCaptured)
    assert GatewayLedgerEntry.objects.using("providers").get(order_id=order_id).entry_id == (
        captured.charge_id)


def test_a_cancelled_order_is_never_charged(order_id):
    charge_on(placed(order_id))
    cancelled = OrderCancelled(order_id, "cancelled by customer", "customer")
    assert refund_on(cancelled) == DeliveryResult.DONE
    charge_on(held(order_id))
    assert of_type(order_id, PaymentCaptured) == []
    assert of_type(order_id, PaymentRefunded) == []
    assert charge_rows(order_id) == 0
    assert PaymentSnapshot.objects.get(stream_id=order_id).state["status"] == "cancelled"


def test_cancelling_a_captured_order_refunds_the_net_without_a_second_release(order_id):
    charge_on(placed(order_id))
    charge_on(held(order_id))
    refund_on(OrderCancelled(order_id, "cancelled by customer", "customer"))
    assert of_type(order_id, PaymentRefunded) == [
        PaymentRefunded(order_id, TOTAL, of_type(order_id, PaymentRefunded)[0].refund_id,
                        "cancelled by customer", compensation=False)]
    assert ledger_net(order_id) == 0
    refund_on(OrderCancelled(order_id, "cancelled by customer", "customer"))
    assert len(of_type(order_id, PaymentRefunded)) == 1


def test_a_capture_lost_before_the_cancel_is_found_and_refunded_at_once(order_id):
    charge_on(placed(order_id))
    with pytest.raises(WorkerDied), transaction.atomic():
        services.charge_payment(order_id, stock_held=True)
        raise WorkerDied  # the provider charged; we never recorded it
    refund_on(OrderCancelled(order_id, "cancelled by customer", "customer"))
    kinds = [type(e).__name__ for e in payment_events(order_id)]
    assert kinds == ["OrderPlacementNoted", "OrderCancellationNoted", "PaymentCaptured",
                     "PaymentRefunded"]
    assert ledger_net(order_id) == 0
    charge_on(held(order_id))  # the hold's delivery, retried late: nothing more happens
    assert len(of_type(order_id, PaymentCaptured)) == 1
    assert charge_rows(order_id) == 1


def test_a_failed_shipment_refunds_as_a_compensation_with_the_failure_reason(order_id):
    charge_on(placed(order_id))
    charge_on(held(order_id))
    assert refund_on(ShipmentFailed(order_id, "carrier refused the address")) == DeliveryResult.DONE
    [refund] = of_type(order_id, PaymentRefunded)
    assert (refund.amount, refund.reason, refund.compensation) == (
        TOTAL, "carrier refused the address", True)
    # The chain then cancels the order: nothing is left to refund.
    refund_on(ShipmentFailed(order_id, "carrier refused the address"))
    refund_on(OrderCancelled(order_id, "carrier refused the address", "saga"))
    assert len(of_type(order_id, PaymentRefunded)) == 1
    assert ledger_net(order_id) == 0
    assert PaymentSnapshot.objects.get(stream_id=order_id).state["status"] == "refunded"


@override_settings(PAYMENTS_FAULTS="duplicate=1")
def test_a_duplicate_booked_by_the_provider_is_left_in_its_ledger_for_the_reconciler(order_id):
    charge_on(placed(order_id))
    charge_on(held(order_id))
    assert len(of_type(order_id, PaymentCaptured)) == 1
    assert charge_rows(order_id) == 2
    assert ledger_net(order_id) == 2 * TOTAL


def test_the_snapshots_rebuilt_from_events_equal_the_incremental_ones(order_id):
    other = uuid.uuid4().hex
    charge_on(placed(order_id))
    charge_on(held(order_id))
    refund_on(ShipmentFailed(order_id, "carrier refused the address"))
    charge_on(placed(other, "tok_decline"))
    charge_on(held(other))
    live = {s.stream_id: (s.version, s.state) for s in PaymentSnapshot.objects.all()}
    PaymentSnapshot.objects.filter(stream_id=order_id).update(version=1, state={})
    PaymentSnapshot.objects.filter(stream_id=other).delete()
    PaymentSnapshot.objects.create(stream_id="no-events", version=3, state={})
    seen: list[tuple[int, int]] = []
    assert services.rebuild_read_models(progress=lambda done, total: seen.append((done, total))) \
        == len(live)
    assert {s.stream_id: (s.version, s.state) for s in PaymentSnapshot.objects.all()} == live
    assert seen[-1] == (len(live), len(live))
    payment = services.repository.get(order_id)
    assert isinstance(payment, Payment) and payment.net == 0
