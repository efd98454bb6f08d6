"""A smoke run of `manage.py loadtest` with tiny numbers: it starts the stack on the test
database, places orders through the API, follows them to a terminal state and reports."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", "providers"]),
              pytest.mark.e2e]


def test_the_load_test_follows_every_order_to_confirmed_and_reports_the_figures(tmp_path):
    output = tmp_path / "loadtest.json"
    call_command("loadtest", "--use-current-database", "--quiet", "--clients", "2",
                 "--orders", "12", "--workers", "1", "--web-workers", "1",
                 "--sample-every", "0.5", "--deadline", "90", "--output", str(output))

    report = json.loads(output.read_text())
    assert report["ok"], report["failures"]
    assert report["orders"] == {"placed": 12, "confirmed": 12, "cancelled": 0, "pending": 0}
    assert report["latency_placed_to_confirmed"]["count"] == 12
    assert 0 < report["latency_placed_to_confirmed"]["p50"] <= \
        report["latency_placed_to_confirmed"]["p99"]
    assert report["throughput"]["accepted_per_second"] > 0
    assert report["throughput"]["confirmed_per_second"] > 0
    assert report["samples"] and report["samples"][-1]["placed"] == 12
    assert set(report["cpu"]["cpu_seconds"]) >= {"web", "worker", "beat", "postgres"}
    assert report["http"]["server_errors"] == []
