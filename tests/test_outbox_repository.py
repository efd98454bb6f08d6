"""The aggregate repository: one-row loads from the snapshot, a snapshot that always equals
the fold of the events, and the version guard against stale writers."""

from __future__ import annotations

import pytest

from outbox.models import Event
from outbox.repository import AggregateRepository
from outbox.store import ConcurrencyError
from tests.probe.domain import Counter
from tests.probe.models import CounterSnapshot
from tests.probe.pings import OUTBOX_TEST_APPS

pytestmark = pytest.mark.django_db(transaction=True, available_apps=OUTBOX_TEST_APPS)

counters = AggregateRepository(Counter, CounterSnapshot)


def count(stream_id: str, *amounts: int) -> Counter:
    """Run the counter's command once per amount, saving after each, as a service would."""
    counter = counters.get(stream_id, lock=False) or Counter(stream_id)
    for amount in amounts:
        counters.save(counter, counter.add(amount))
    return counter


def test_an_aggregate_loads_from_its_snapshot_row_in_one_query(django_assert_num_queries):
    count("c1", 1, 2, 3)
    # Make the snapshot say something the events do not: a load that folded would not see it.
    CounterSnapshot.objects.filter(stream_id="c1").update(state={"total": 99, "changes": 3})

    with django_assert_num_queries(1):
        counter = counters.get("c1", lock=False)

    assert (counter.total, counter.version) == (99, 3)


def test_rebuilding_by_folding_the_events_equals_the_snapshot():
    count("c1", 5, -2, 4, 10)

    loaded = counters.get("c1", lock=False)
    rebuilt = counters.rebuild("c1")

    assert rebuilt.snapshot() == loaded.snapshot() == {"total": 17, "changes": 4}
    assert rebuilt.version == loaded.version == 4


def test_a_stale_save_raises_concurrency_error_and_writes_nothing():
    count("c1", 1)
    mine = counters.get("c1", lock=False)
    theirs = counters.get("c1", lock=False)
    counters.save(theirs, theirs.add(10))

    with pytest.raises(ConcurrencyError):
        counters.save(mine, mine.add(5))

    assert list(Event.objects.filter(stream_id="c1").order_by("version")
                .values_list("version", flat=True)) == [1, 2]
    assert counters.get("c1", lock=False).total == 11


def test_two_new_aggregates_with_one_id_cannot_both_be_created():
    counters.save(first := Counter("c1"), first.add(1))
    second = Counter("c1")

    with pytest.raises(ConcurrencyError):
        counters.save(second, second.add(2))

    assert counters.get("c1", lock=False).total == 1


def test_a_lost_snapshot_is_rebuilt_from_the_events_and_written_again():
    count("c1", 3, 4)
    CounterSnapshot.objects.all().delete()

    counter = counters.get("c1", lock=False)
    assert (counter.total, counter.version) == (7, 2)
    counters.save(counter, counter.add(1))

    assert CounterSnapshot.objects.get(stream_id="c1").state == {"total": 8, "changes": 3}


def test_an_unknown_aggregate_loads_as_none():
    assert counters.get("nobody", lock=False) is None
    assert counters.rebuild("nobody") is None


def test_saving_no_events_writes_nothing():
    counter = Counter("c1")
    assert counters.save(counter, []) == []
    assert not CounterSnapshot.objects.exists()
