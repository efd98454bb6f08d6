"""A smoke run of `manage.py bench` with tiny numbers: every part runs (the system's stack, the
naive chain's, DBOS when installed, the outbox's workers, the reconciler) and the JSON file
and the Markdown table are written. It checks that the bench works, never how fast."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection

from lab.bench.dbos_run import NOT_INSTALLED, dbos_version
from saga.models import OrderSaga

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", "providers"]),
              pytest.mark.e2e]

STEP_KEYS = {"clients", "rate", "ok", "placed", "confirmed", "pending", "accepted_per_second",
             "confirmed_per_second", "latency_ms", "cpu_ms_per_order"}


def _assert_flow_measured(flow: dict, name: str) -> None:
    assert [step["clients"] for step in flow["ramp"]] == [1, 2], name
    for step in [*flow["ramp"], flow["half_max"], flow["idle"]]:
        assert STEP_KEYS <= set(step), name
        assert step["ok"], (name, step["failures"])
        assert step["confirmed"] == step["placed"] > 0, name
        assert 0 < step["latency_ms"]["p50"] <= step["latency_ms"]["p99"], name
    assert flow["max_confirmed_per_second"] > 0, name
    assert flow["half_max"]["rate"] == pytest.approx(flow["max_confirmed_per_second"] / 2,
                                                     abs=0.01), name


def test_the_smoke_bench_runs_every_part_and_writes_the_figures_and_the_table(tmp_path, broker):
    call_command("bench", "--smoke", "--use-current-database", "--quiet",
                 "--output-dir", str(tmp_path))

    results = json.loads((tmp_path / "bench.json").read_text())
    _assert_flow_measured(results["system"], "system")
    _assert_flow_measured(results["naive_chain"], "naive chain")
    if dbos_version():
        _assert_flow_measured(results["dbos"], "dbos")
    else:
        assert results["dbos"] == {"skipped": NOT_INSTALLED}
    for phase, events in (("fast_path", 5), ("backlog", 30)):
        assert results["outbox"][phase]["events"] == events
        assert results["outbox"][phase]["deliveries_completed_per_second"] > 0
    reconciler = results["reconciler"]
    assert (reconciler["drifted"], reconciler["converged"]) == (5, 50)
    assert reconciler["alone"]["examined"] == reconciler["beside_converged"]["examined"] == [5]
    assert set(results["ratios"]) == {"system_over_naive_chain", "system_over_dbos",
                                      "system_over_naive_chain_by_cpu_ceiling",
                                      "system_over_dbos_by_cpu_ceiling",
                                      "system_cpu_per_order_over_naive_chain",
                                      "reconciler_beside_converged_over_alone"}
    assert results["ratios"]["system_over_naive_chain"] > 0
    assert len(results["targets"]) == 7
    assert all(t["measured"] is not None for t in results["targets"]
               if "DBOS" not in t["target"] or dbos_version())
    table = (tmp_path / "bench.md").read_text()
    assert "| this system, API → confirmed |" in table
    assert "| target (issue 6) | wanted | measured | met |" in table
    # The reconciler's bench sagas are gone; the naive chain's tables too.
    assert not OrderSaga.objects.filter(order_id__startswith="bench-").exists()
    assert "bench_flow_order" not in connection.introspection.table_names()
