import pytest
from django.db import transaction

from outbox import store
from outbox.models import Delivery
from tests.conftest import wait_for
from tests.probe.events import Pinged
from tests.probe.models import Effect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def test_an_appended_event_reaches_its_handler_once(worker, broker):
    with transaction.atomic():
        store.append("probe", "p1", 0, [Pinged(key="k1")])
    wait_for(lambda: Effect.objects.filter(key="k1", count=1).exists(), message="the effect")
    assert Delivery.objects.get().status == Delivery.Status.DONE
