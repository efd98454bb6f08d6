"""The harness's own arithmetic and choices, without a stack: figures, order mix, settings."""

import random

from lab.chaos.faults import expected_system_faults
from lab.cli import customer_tokens
from lab.figures import distribution, percentile, slope
from lab.stack.clients import REFUSED_POSTAL_CODE, OrderMix
from lab.stack.database import with_application_name


def test_percentiles_are_nearest_rank_and_empty_is_none():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51.0  # round(0.5 * 99) = 50 -> the 51st value
    assert percentile(values, 0.99) == 99.0
    assert percentile([], 0.5) is None
    assert distribution([0.010, 0.020, 0.030], unit="ms")["p50"] == 20.0


def test_the_slope_of_a_growing_backlog_is_its_rate_and_a_flat_one_is_zero():
    assert slope([(t, 5 + 2 * t) for t in range(10)]) == 2.0
    assert slope([(t, 7) for t in range(10)]) == 0.0
    assert slope([(0, 1)]) is None


def test_each_process_gets_its_own_application_name_and_keeps_the_other_options():
    url = with_application_name("postgres://u@h:5432/db?sslmode=disable", "harness-worker-1")
    assert url == "postgres://u@h:5432/db?sslmode=disable&application_name=harness-worker-1"
    assert with_application_name(url, "harness-beat").endswith("application_name=harness-beat")


def test_the_chaos_mix_gives_every_token_refused_addresses_and_cancels():
    mix = OrderMix(("A", "B", "C"), (("tok_ok", 0.7), ("tok_decline", 0.3)),
                   refused_address=0.2, cancel=0.1, scarce_sku="S", scarce=0.5)
    intents = [mix.draw(random.Random(n)) for n in range(400)]
    assert {i.token for i in intents} == {"tok_ok", "tok_decline"}
    assert 40 < sum(i.refused_address for i in intents) < 120
    assert 10 < sum(i.cancel for i in intents) < 80
    refused = next(i for i in intents if i.refused_address)
    assert refused.body()["shipping_address"]["postal_code"] == REFUSED_POSTAL_CODE
    assert all(1 <= line["quantity"] <= 3 for i in intents for line in i.lines)
    assert any(line["sku"] == "S" for i in intents for line in i.lines)


def test_the_fault_settings_say_which_kinds_a_run_must_see():
    kinds = expected_system_faults({"PAYMENTS_FAULTS": "decline=0.1,slow_ms=0",
                                    "SHIPPING_FAULTS": "", "OUTBOX_CHAOS": "duplicate=0.2"})
    assert kinds == {"gateway_decline", "duplicate_delivery"}


def test_fewer_tokens_than_clients_are_shared_round_robin():
    assert customer_tokens(["a", "b"], 5) == ["a", "b", "a", "b", "a"]
    assert customer_tokens([], 3) == []


def test_every_process_of_a_stack_shares_one_secret_and_names_its_connections(
        tmp_path, monkeypatch):
    from lab.stack.processes import Stack, StackConfig

    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    stack = Stack("postgres://u@h:5432/db", "redis://h:6379/9",
                  StackConfig(fault_env={"OUTBOX_CHAOS": "duplicate=0.5"},
                              no_inline_hops=frozenset({2})), tmp_path)
    web, worker, other = stack.env("web", faults=True), stack.env("worker-1"), \
        stack.env("worker-2", index=2)
    # A payment token sealed by web is opened by a worker: one key for all.
    assert web["DJANGO_SECRET_KEY"] == worker["DJANGO_SECRET_KEY"] != ""
    assert worker["DATABASE_URL"].endswith("application_name=harness-worker-1")
    assert (web["OUTBOX_CHAOS"], worker["OUTBOX_CHAOS"]) == ("duplicate=0.5", "")
    assert other["OUTBOX_INLINE_HOPS"] == "0" and "OUTBOX_INLINE_HOPS" not in worker


def test_the_cpu_meter_counts_a_process_born_between_samples_and_its_children():
    import subprocess
    import sys

    from lab.cpu import CpuMeter

    # A parent that starts a child; the child burns CPU, says so, then waits to be stopped.
    burn = ("import sys; sum(i * i for i in range(3_000_000)); print('burnt', flush=True); "
            "sys.stdin.read()")
    parent = ("import subprocess, sys; child = subprocess.Popen([sys.executable, '-c', "
              f"{burn!r}], stdin=sys.stdin); child.wait()")
    pids: list[int] = []
    meter = CpuMeter(roles={"burner": lambda: pids}, alone={"idle": lambda: []})
    meter.sample()  # before the process exists
    proc = subprocess.Popen([sys.executable, "-c", parent], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        pids.append(proc.pid)
        assert proc.stdout.readline().strip() == "burnt"
        meter.sample()  # the only sample that sees it: born since the last one
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)

    assert meter.used["burner"] > 0.05  # the child's CPU, counted through its parent
    assert meter.used["idle"] == 0.0
    summary = meter.summary(1.0)
    assert summary["available"] and summary["cpu_seconds"]["burner"] > 0
