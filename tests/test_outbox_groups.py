"""Deliveries run in groups (one take, one commit), in this process: what a group keeps when
all goes well, and what it gives back when one handler fails."""

from __future__ import annotations

import dataclasses

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from outbox import registry, relay
from outbox.delivery import DeliveryResult, HandlerSwallowedError, run_batch
from outbox.models import Delivery
from tests.probe.models import Breakage, Effect
from tests.probe.pings import OUTBOX_TEST_APPS, effect_count, ping

pytestmark = pytest.mark.django_db(transaction=True, available_apps=OUTBOX_TEST_APPS)


def pings(*keys: str) -> list[Delivery]:
    with relay.suppressed():  # run here, not by a worker
        return [ping(key) for key in keys]


def test_a_group_runs_every_delivery_once_in_one_transaction(settings):
    settings.OUTBOX_GROUP_SIZE = 50
    deliveries = pings("a", "b", "c", "d", "e")

    with CaptureQueriesContext(connection) as queries:
        counts = run_batch([d.id for d in deliveries])

    assert counts[DeliveryResult.DONE] == 5
    assert [effect_count(k) for k in "abcde"] == [1, 1, 1, 1, 1]
    assert set(Delivery.objects.values_list("status", "attempts")) == {("done", 1)}
    commits = [q for q in queries.captured_queries if q["sql"] == "COMMIT"]
    assert len(commits) == 2, "one commit charges the group's attempts, one keeps its work"


def test_a_duplicate_of_a_group_changes_nothing(settings):
    settings.OUTBOX_GROUP_SIZE = 50
    ids = [d.id for d in pings("a", "b", "c")]
    run_batch(ids)

    counts = run_batch(ids)

    assert counts[DeliveryResult.DONE] == 0 and counts[DeliveryResult.SKIPPED] == 3
    assert [effect_count(k) for k in "abc"] == [1, 1, 1]


@pytest.fixture
def retries(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The retry messages a failure would send (kept here: no worker runs in these tests)."""
    sent: list[object] = []
    monkeypatch.setattr(relay, "send", lambda batch, **kwargs: sent.append(batch))
    return sent


def test_one_failing_handler_rolls_its_group_back_and_only_it_is_retried(settings, retries):
    settings.OUTBOX_GROUP_SIZE = 50
    Breakage.objects.create(key="b")
    deliveries = pings("a", "b", "c")

    counts = run_batch([d.id for d in deliveries])

    assert (counts[DeliveryResult.DONE], counts[DeliveryResult.RETRY]) == (2, 1)
    assert [effect_count(k) for k in "abc"] == [1, 0, 1]
    broken = Delivery.objects.get(id=deliveries[1].id)
    assert (broken.status, broken.attempts) == ("pending", 1)
    assert "probe b is broken" in broken.last_error
    assert set(Delivery.objects.filter(status="done").values_list("attempts", flat=True)) == {1}
    assert retries == [[(broken.id, broken.queue)]]


def test_a_handler_that_swallows_a_doomed_transaction_is_recorded_as_failed(
        settings, monkeypatch, retries):
    """Services join the delivery's transaction without savepoints: an error caught inside
    one dooms the transaction, and returning normally must not pass for success."""
    settings.OUTBOX_GROUP_SIZE = 1
    [delivery] = pings("swallow")

    def swallowing(event: object, envelope: object) -> None:
        try:
            with transaction.atomic(savepoint=False):
                Effect.objects.create(key="swallow")
                raise ValueError("refused")
        except ValueError:
            pass

    real = registry.subscription
    monkeypatch.setattr(registry, "subscription", lambda name, event_type: dataclasses.replace(
        real(name, event_type), func=swallowing))

    assert run_batch([delivery.id])[DeliveryResult.RETRY] == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert HandlerSwallowedError.__name__ in delivery.last_error
    assert not Effect.objects.filter(key="swallow").exists()
