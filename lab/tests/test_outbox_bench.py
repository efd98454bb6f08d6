"""The outbox benchmark runs end to end (tiny N: this checks that it works, not how fast)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from outbox.diagnostics import STREAM_TYPE
from outbox.models import Delivery, Event
from tests.probe.pings import OUTBOX_TEST_APPS

pytestmark = [
    # The lab app too: it holds the command.
    pytest.mark.django_db(transaction=True, available_apps=[*OUTBOX_TEST_APPS, "lab"]),
    pytest.mark.e2e,
]


def test_bench_outbox_measures_both_paths_with_its_own_worker_and_cleans_up(tmp_path, broker):
    output = tmp_path / "outbox.json"
    out = StringIO()

    call_command("bench_outbox", "--fast-events", "5", "--rate", "100", "--events", "30",
                 "--concurrency", "1", "--timeout", "60", "--output", str(output), stdout=out)

    results = json.loads(output.read_text())
    for phase, events in (("fast_path", 5), ("backlog", 30)):
        figures = results[phase]
        assert figures["events"] == events
        assert figures["events_appended_per_second"] > 0
        assert figures["deliveries_completed_per_second"] > 0
        assert 0 <= figures["latency_ms"]["p50"] <= figures["latency_ms"]["p99"]
        assert f"{phase:>9}: {events} events" in out.getvalue()
    # The backlog's CPU per delivery, by part (the lab's one meter).
    assert set(results["backlog"]["cpu_ms_per_delivery"]) == {
        "worker_main", "worker_pool", "postgres", "bench_process"}
    assert results["backlog"]["cpu_ms_per_delivery"]["worker_pool"] > 0
    assert not Event.objects.filter(stream_type=STREAM_TYPE).exists()
    assert not Delivery.objects.exists()
