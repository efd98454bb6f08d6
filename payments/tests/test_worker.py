"""Payments under a real Celery worker: the delivery's retries with backoff carry a flaky
provider to one capture. The worker serves only the payments queue, so the test depends on no
other context's handlers."""

import uuid

import pytest
from django.test import override_settings

from outbox.models import Delivery, Event
from payments.models import GatewayCall, GatewayLedgerEntry
from payments.tests.facts import held, placed
from tests.conftest import wait_for
from tests.support.delivery import publish

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", "providers"]),
              pytest.mark.usefixtures("provider_connection_closed_after"), pytest.mark.e2e]


@override_settings(OUTBOX_QUEUE_MODE="per_context")
def test_a_real_worker_retries_a_flaky_charge_until_it_is_captured_once(start_worker, broker):
    start_worker(queues="payments", OUTBOX_QUEUE_MODE="per_context")
    order_id = uuid.uuid4().hex
    publish(placed(order_id, "tok_flaky"), held(order_id), send=True)
    charges = Delivery.objects.filter(event__correlation_id=order_id,
                                      handler="payments.charge_payment")
    wait_for(lambda: charges.count() == 2 and not charges.exclude(status="done").exists(),
             timeout=60, message="both payments deliveries to be done")
    assert Event.objects.filter(stream_type="payments.Payment", stream_id=order_id,
                                event_type="payments.PaymentCaptured").count() == 1
    assert max(d.attempts for d in charges) == 3  # two transient failures, then the capture
    outcomes = list(GatewayCall.objects.using("providers")
                    .filter(idempotency_key=f"order-{order_id}-charge")
                    .order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["error", "error", "succeeded"]
    assert GatewayLedgerEntry.objects.using("providers").filter(order_id=order_id).count() == 1
