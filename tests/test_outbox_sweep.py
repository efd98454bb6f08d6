"""The sweep: deliveries left pending past their time are claimed with FOR UPDATE SKIP LOCKED
and leased, so concurrent sweepers never send the same one twice in a round. And the pruning
of done deliveries."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from outbox import pruning, relay, store, tasks
from outbox.models import Delivery, Event
from tests.probe.events import Pinged
from tests.probe.pings import OUTBOX_TEST_APPS

pytestmark = pytest.mark.django_db(transaction=True, available_apps=OUTBOX_TEST_APPS)


def pending_pings(count: int, stream: str = "bulk") -> list[int]:
    """`count` committed deliveries that were never sent (relay suppressed)."""
    with transaction.atomic(), relay.suppressed():
        store.append("probe", stream, 0, [Pinged(key=f"{stream}-{i}") for i in range(count)])
    return list(Delivery.objects.filter(event__stream_id=stream).values_list("id", flat=True))


def make_due() -> None:
    """Let time pass: every pending delivery's next attempt (or lease) is now in the past."""
    Delivery.objects.filter(status="pending").update(
        next_attempt_at=timezone.now() - timedelta(seconds=1))


def sweep_concurrently(sweepers: int) -> list[list[int]]:
    """Run `sweepers` sweeps at once, each in its own thread with its own database
    connection; returns the ids each one sent."""
    sent: list[list[int]] = [[] for _ in range(sweepers)]
    barrier = threading.Barrier(sweepers)

    def sweeper(n: int) -> None:
        def capture(batch: relay.Batch) -> None:
            sent[n].extend(delivery_id for delivery_id, _ in batch)
            time.sleep(0.01)  # broker I/O takes time; the other sweeper goes on meanwhile

        try:
            barrier.wait(timeout=10)
            relay.sweep(sender=capture)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper, args=(n,)) for n in range(sweepers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return sent


def test_two_concurrent_sweepers_send_each_of_10000_deliveries_exactly_once_per_round():
    ids = pending_pings(10_000)
    assert len(ids) == 10_000
    make_due()

    for _round in range(2):
        first, second = sweep_concurrently(2)
        everything = first + second
        assert len(everything) == len(set(everything)), "a delivery was sent twice in a round"
        assert set(everything) == set(ids), "a due delivery was not sent"
        assert first and second, "both sweepers should have claimed a share"

        # Within the lease, a further round sends nothing again.
        assert sweep_concurrently(2) == [[], []]
        make_due()  # the lease runs out: the next round sends everything once more


def test_the_sweep_leaves_fresh_deliveries_to_the_fast_path_and_finished_ones_alone():
    fresh = pending_pings(3, stream="fresh")  # within the grace after their commit
    finished = pending_pings(2, stream="finished")
    Delivery.objects.filter(id=finished[0]).update(status="done", done_at=timezone.now(),
                                                  next_attempt_at=timezone.now())
    Delivery.objects.filter(id=finished[1]).update(status="dead",
                                                  next_attempt_at=timezone.now())
    sent: list[int] = []

    relay.sweep(sender=lambda batch: sent.extend(i for i, _ in batch))

    assert sent == []
    make_due()
    relay.sweep(sender=lambda batch: sent.extend(i for i, _ in batch))
    assert sorted(sent) == sorted(fresh)


def test_the_sweep_sends_in_batches_of_the_configured_size(settings):
    settings.OUTBOX_BATCH_SIZE = 7
    ids = pending_pings(100)
    make_due()
    batches: list[relay.Batch] = []

    assert relay.sweep(sender=batches.append) == 100

    assert all(len(batch) <= 70 for batch in batches)  # one claim is ten tasks' worth
    assert sorted(i for batch in batches for i, _ in batch) == sorted(ids)


def test_pruning_deletes_only_done_deliveries_older_than_the_retention_in_batches():
    ids = pending_pings(10)
    old = timezone.now() - timedelta(days=8)
    recent = timezone.now() - timedelta(hours=1)
    old_done, recent_done, old_dead, old_pending = ids[:5], ids[5:7], ids[7:9], ids[9:]
    Delivery.objects.filter(id__in=old_done).update(status="done", done_at=old, created_at=old)
    Delivery.objects.filter(id__in=recent_done).update(status="done", done_at=recent)
    Delivery.objects.filter(id__in=old_dead).update(status="dead", created_at=old)
    Delivery.objects.filter(id__in=old_pending).update(created_at=old)

    # One bounded batch at a time...
    assert pruning.prune_done_deliveries(older_than=timedelta(days=7), batch=2,
                                         max_batches=1) == 2
    assert Delivery.objects.filter(id__in=old_done).count() == 3
    # ...until none is left (2 + 1 more).
    assert pruning.prune_done_deliveries(older_than=timedelta(days=7), batch=2) == 3

    remaining = set(Delivery.objects.values_list("id", flat=True))
    assert remaining == set(recent_done + old_dead + old_pending)
    assert Event.objects.count() == 10, "events are the history: never pruned"


def test_the_scheduled_prune_uses_the_configured_retention(settings):
    settings.OUTBOX_PRUNE_AFTER_DAYS = 2
    ids = pending_pings(2)
    Delivery.objects.filter(id=ids[0]).update(status="done",
                                              done_at=timezone.now() - timedelta(days=3))
    Delivery.objects.filter(id=ids[1]).update(status="done",
                                              done_at=timezone.now() - timedelta(days=1))

    assert tasks.prune() == 1

    assert list(Delivery.objects.values_list("id", flat=True)) == [ids[1]]


def test_a_backlog_is_leased_for_its_drain_so_the_next_sweeps_do_not_send_it_again(settings):
    """The lease grows with what the sweep has sent ahead of each chunk: once the base lease
    has passed, the sweeps that follow send none of a backlog the workers are still draining."""
    settings.OUTBOX_BATCH_SIZE = 20  # the sweep claims 200 at a time
    settings.OUTBOX_LEASE_SECONDS = 0.5
    settings.OUTBOX_DRAIN_PER_SECOND = 60  # 600 deliveries: 10 s to drain
    pending_pings(600)
    make_due()
    sent: list[int] = []

    def capture(batch: relay.Batch) -> None:
        sent.extend(delivery_id for delivery_id, _ in batch)

    relay.sweep(sender=capture)
    assert sorted(sent) == sorted(set(sent)) and len(sent) == 600
    time.sleep(1.0)  # past the base lease, well within the drain
    relay.sweep(sender=capture)
    relay.sweep(sender=capture)

    assert len(sent) == 600, "a backlog still draining is not sent again"
    last = Delivery.objects.order_by("-next_attempt_at").first()
    first = Delivery.objects.order_by("next_attempt_at").first()
    assert last is not None and first is not None
    assert last.next_attempt_at - first.next_attempt_at >= timedelta(seconds=6)
