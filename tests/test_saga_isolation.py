"""One saga that the reconciler cannot read (an event that no longer decodes) is recorded and
skipped: the rest of the pass goes on, and verification keeps advancing past it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from outbox.models import Event
from saga import reconciler
from saga.models import OrderSaga, ReconciliationAction
from tests.saga_world import (
    catalogue_fixture,  # noqa: F401
    customer_fixture,  # noqa: F401
    place,
    providers_closed,  # noqa: F401
    saga,
)
from tests.support.delivery import drain

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "providers"])


@pytest.fixture(autouse=True)
def quick_steps(settings) -> None:
    settings.SAGA_STEP_DEADLINE_SECONDS = 0


ORDER = "orders.Order"


def later(minutes: int) -> timezone.datetime:
    return timezone.now() + timedelta(minutes=minutes)


def plant_undecodable_event(order_id: str) -> None:
    """A stored event of a known type whose payload its contract cannot read."""
    last = Event.objects.filter(stream_type=ORDER, stream_id=order_id).order_by("-version")[0]
    Event.objects.create(stream_type=ORDER, stream_id=order_id, version=last.version + 1,
                         event_type=last.event_type, schema_version=last.schema_version,
                         payload={"not": "what the contract says"}, correlation_id=order_id,
                         metadata=last.metadata)


def test_a_saga_whose_event_cannot_be_decoded_does_not_stop_the_pass(catalogue, customer: User):
    bad, good = place(customer), place(customer)
    drain(lose="payments.")  # both stalled at the charge, due for the reconciler
    plant_undecodable_event(bad)

    reconciler.run_pass(now=later(1))

    assert ReconciliationAction.objects.filter(saga_id=good, kind="retry_payment").exists()
    [failure] = ReconciliationAction.objects.filter(saga_id=bad)
    assert failure.kind == "reconcile_failed"
    assert failure.evidence["error"]
    assert saga(bad).next_check_at > later(2), "a saga that failed is not retried every pass"


def test_verification_records_an_unreadable_saga_and_keeps_advancing(catalogue, customer):
    bad, good = place(customer), place(customer)
    drain()
    assert {saga(bad).state, saga(good).state} == {"converged"}
    plant_undecodable_event(bad)

    reconciler.verify_converged()

    assert all(s.verified_at is not None for s in OrderSaga.objects.all())
    assert ReconciliationAction.objects.filter(saga_id=bad, kind="verify_failed").exists()
    assert not ReconciliationAction.objects.filter(saga_id=good).exists()
