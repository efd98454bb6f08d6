"""Drift of a read model is judged against its events as of one moment: a saga row claimed
by a reconciler pass just before the choreography moved on is not drift."""

import pytest

from saga.models import OrderSaga
from saga.observation import observe
from saga.tests.factories import OrderHistory

# Not wrapped in a test transaction: the observation takes a snapshot of its own.
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "providers"])


def test_a_saga_claimed_just_before_its_next_event_is_not_taken_for_drift():
    order = OrderHistory()
    order.record(order.placed(), order.reserved())
    claimed = OrderSaga.objects.get(order_id=order.order_id)  # as a reconciler pass reads it
    order.record(order.captured())  # meanwhile the payment is captured

    observation = observe([claimed])[order.order_id]

    assert observation.saga_drift == []
    assert observation.view_drift == []


def test_a_saga_row_that_disagrees_with_its_events_is_drift():
    order = OrderHistory()
    order.record(order.placed(), order.reserved(), order.captured())
    OrderSaga.objects.filter(order_id=order.order_id).update(captures=0)  # a lost write
    claimed = OrderSaga.objects.get(order_id=order.order_id)

    assert observe([claimed])[order.order_id].saga_drift == ["captures"]
