"""The event store: an event and its deliveries are one atomic write, the version guard lets
one writer win, and old schema versions are read through their upcasters."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from outbox import store
from outbox.delivery import DeliveryResult, run_delivery
from outbox.models import Delivery, Event
from tests.probe.events import Counted, Pinged
from tests.probe.pings import OUTBOX_TEST_APPS, effect_count

pytestmark = pytest.mark.django_db(transaction=True, available_apps=OUTBOX_TEST_APPS)

QUEUE = "outbox"


class Boom(Exception):
    pass


def test_an_event_and_its_deliveries_commit_together_and_are_sent_on_commit(broker):
    with transaction.atomic():
        [row] = store.append("probe", "p1", 0, [Pinged(key="k1")])
        assert broker.llen(QUEUE) == 0, "nothing may be sent before the commit"

    assert Event.objects.filter(id=row.id).exists()
    delivery = Delivery.objects.get(event_id=row.id)
    assert (delivery.handler, delivery.status, delivery.attempts) == (
        "probe.record_ping", "pending", 0)
    assert broker.llen(QUEUE) == 1


def test_a_rollback_leaves_neither_event_nor_deliveries_nor_a_message(broker):
    with pytest.raises(Boom), transaction.atomic():
        store.append("probe", "p1", 0, [Pinged(key="k1"), Pinged(key="k2")])
        assert Delivery.objects.count() == 2  # written, inside the transaction
        raise Boom

    assert Event.objects.count() == 0
    assert Delivery.objects.count() == 0
    assert broker.llen(QUEUE) == 0


def test_an_event_nobody_handles_gets_no_delivery():
    with transaction.atomic():
        [row] = store.append("probe.Counter", "c1", 0, [Counted(amount=1)])
    assert Event.objects.get(id=row.id).event_type == "probe.Counted"
    assert not Delivery.objects.exists()


def test_append_outside_a_transaction_is_refused():
    with pytest.raises(store.NotInTransaction):
        store.append("probe", "p1", 0, [Pinged(key="k1")])
    assert not Event.objects.exists()


def test_appended_rows_carry_ids_versions_and_metadata():
    with transaction.atomic():
        rows = store.append("probe", "p1", 0, [Pinged(key="a"), Pinged(key="b", note="n")],
                            correlation_id="order-1", causation_id="42", actor="test")
    stored = list(Event.objects.filter(stream_id="p1").order_by("version"))
    assert [r.id for r in rows] == [r.id for r in stored]
    assert [r.version for r in stored] == [1, 2]
    assert stored[1].payload == {"key": "b", "sleep": 0.0, "note": "n", "crash": False}
    assert stored[0].metadata == {"correlation_id": "order-1", "causation_id": "42",
                                  "actor": "test"}
    assert {d.event_id for d in Delivery.objects.all()} == {r.id for r in rows}


def test_two_concurrent_appends_at_one_version_one_wins_the_other_gets_concurrency_error():
    with transaction.atomic():
        store.append("probe", "s", 0, [Pinged(key="first")])

    outcomes: list[str] = []
    barrier = threading.Barrier(2)
    threads = [
        threading.Thread(target=_append_concurrently, args=("s", 1, key, barrier, outcomes))
        for key in ("left", "right")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(outcomes) == ["conflict", "won"]
    versions = list(Event.objects.filter(stream_id="s").order_by("version")
                    .values_list("version", flat=True))
    assert versions == [1, 2]
    # The loser's event and delivery were rolled back with it.
    assert Delivery.objects.count() == 2


def _append_concurrently(stream_id: str, expected: int, key: str, barrier: threading.Barrier,
                         outcomes: list[str]) -> None:
    """Both writers start their transactions together, then race to insert version
    `expected + 1`: the second insert waits on the first's unique-index entry and fails
    when it commits."""
    try:
        with transaction.atomic():
            Event.objects.filter(stream_id=stream_id).count()  # the transaction has begun
            barrier.wait(timeout=10)
            store.append("probe", stream_id, expected, [Pinged(key=key)])
        outcomes.append("won")
    except store.ConcurrencyError:
        outcomes.append("conflict")
    finally:
        connection.close()


def test_writers_that_reload_after_a_conflict_keep_the_stream_contiguous():
    writers, appends_each = 4, 5
    conflicts: list[int] = []
    barrier = threading.Barrier(writers)

    def writer(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            for i in range(appends_each):
                while True:
                    version = Event.objects.filter(stream_id="busy").count()
                    try:
                        with transaction.atomic():
                            store.append("probe", "busy", version, [Pinged(key=f"w{n}-{i}")])
                        break
                    except store.ConcurrencyError:
                        conflicts.append(n)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    versions = list(Event.objects.filter(stream_id="busy").order_by("version")
                    .values_list("version", flat=True))
    assert versions == list(range(1, writers * appends_each + 1))
    assert Delivery.objects.count() == writers * appends_each


def _old_schema_ping(key: str, *, with_delivery: bool) -> Event:
    """A `probe.Pinged` as schema version 1 wrote it (the key was called "name")."""
    with transaction.atomic():
        event = Event.objects.create(stream_type="probe", stream_id=key, version=1,
                                     event_type="probe.Pinged", schema_version=1,
                                     payload={"name": key}, correlation_id=key)
        if with_delivery:
            Delivery.objects.create(event=event, handler="probe.record_ping",
                                    next_attempt_at=timezone.now())
    return event


def test_an_old_schema_event_is_read_through_its_upcaster():
    _old_schema_ping("legacy", with_delivery=False)

    [env] = store.read_stream("probe", "legacy")

    assert env.event == Pinged(key="legacy", sleep=0.0)
    assert env.event_type == "probe.Pinged"


def test_an_old_schema_event_is_delivered_to_its_handler_in_the_current_shape():
    event = _old_schema_ping("legacy", with_delivery=True)
    delivery = Delivery.objects.get(event=event)

    assert run_delivery(delivery.id) == DeliveryResult.DONE

    assert effect_count("legacy") == 1
