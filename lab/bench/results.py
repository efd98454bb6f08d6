"""The bench's one JSON file and its Markdown table: figures, ratios, and the issue's targets
with what was measured against each."""

from __future__ import annotations

from typing import Any

FLOWS = (("system", "this system, API → confirmed"),
         ("naive_chain", "BASELINE: naive Celery chain, same four steps"),
         ("dbos", "PEER: DBOS Transact workflow, same four steps"))


def _get(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)  # type: ignore[assignment]
    return data


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def ratios(results: dict[str, Any]) -> dict[str, float | None]:
    """Throughput ratios as measured, and as the CPU per order allows (the ceiling on this
    machine's cores: the figure a busy, shared machine distorts least)."""
    system = _get(results, "system", "max_confirmed_per_second")
    cores = _get(results, "machine", "cpus")
    return {
        "system_over_naive_chain": _ratio(system, _get(results, "naive_chain",
                                                       "max_confirmed_per_second")),
        "system_over_dbos": _ratio(system, _get(results, "dbos", "max_confirmed_per_second")),
        "system_over_naive_chain_by_cpu_ceiling": _ratio(
            ceiling(results, "system", cores), ceiling(results, "naive_chain", cores)),
        "system_over_dbos_by_cpu_ceiling": _ratio(
            ceiling(results, "system", cores), ceiling(results, "dbos", cores)),
        "system_cpu_per_order_over_naive_chain": _ratio(
            _best_cpu(results, "system"), _best_cpu(results, "naive_chain")),
        "reconciler_beside_converged_over_alone": _get(results, "reconciler",
                                                       "ratio_of_medians"),
    }


def ceiling(results: dict[str, Any], flow: str, cores: int | None) -> float | None:
    """Orders/s the flow's CPU per order allows on all of this machine's cores."""
    cpu = _best_cpu(results, flow)
    return round(cores * 1000 / cpu, 1) if cpu and cores else None


def _best_cpu(results: dict[str, Any], flow: str) -> float | None:
    """CPU ms per order at the maximum (the figure a busy machine distorts least)."""
    at = _get(results, flow, "max_at_clients")
    for step in _get(results, flow, "ramp") or []:
        if step["clients"] == at and step["ok"]:
            return step["cpu_ms_per_order"]
    return None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    r = ratios(results)
    rows = [
        ("end to end, confirmed orders/s", "≥ 150",
         _get(results, "system", "max_confirmed_per_second"), lambda v: v >= 150),
        ("p50 placed → confirmed when idle, ms", "≤ 40",
         _get(results, "system", "idle", "latency_ms", "p50"), lambda v: v <= 40),
        ("p99 placed → confirmed at half of the maximum, ms", "≤ 250",
         _get(results, "system", "half_max", "latency_ms", "p99"), lambda v: v <= 250),
        ("throughput over the naive Celery chain", "≥ 0.7",
         r["system_over_naive_chain"], lambda v: v >= 0.7),
        ("throughput over DBOS", "≥ 3", r["system_over_dbos"], lambda v: v >= 3),
        ("outbox deliveries/s drained from a backlog", "≥ 5,000",
         _get(results, "outbox", "backlog", "deliveries_completed_per_second"),
         lambda v: v >= 5000),
        ("reconciler pass beside the converged over alone", "≤ 2",
         r["reconciler_beside_converged_over_alone"], lambda v: v <= 2),
    ]
    return [{"target": name, "wanted": wanted, "measured": value,
             "met": None if value is None else bool(check(value))}
            for name, wanted, value, check in rows]


NONE = "n/a"


def _fmt(value: Any, suffix: str = "") -> str:
    return NONE if value is None else f"{value:,}{suffix}" if isinstance(value, int | float) \
        else str(value)


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    out = [f"# Side by side: `manage.py bench` ({results['finished_at'][:19]}Z)", ""]
    contended = results.get("contended")
    out.append(f"{m['cpus']} cores; load average {m['load_average_at_start']} at the start, "
               f"{m['load_average_at_end']} at the end. "
               + ("**Contended**: other work ran on the machine during the run "
                  f"(up to {results['others_cores_used_max']} cores of it during a step), so "
                  "rates are low and latencies high; CPU ms per order is the steadier figure."
                  if contended else "The machine was otherwise idle."))
    if results.get("label"):
        out.append(f"Note: {results['label']}")
    out += ["", "| flow | max confirmed orders/s (clients) | at half max: p50 / p99 ms | "
            "idle: p50 / p99 ms | CPU ms per order at max | ceiling from CPU, orders/s |",
            "|---|---|---|---|---|---|"]
    for key, name in FLOWS:
        flow = results.get(key)
        if flow is None:
            continue
        if "skipped" in flow:
            out.append(f"| {name} | skipped: {flow['skipped']} | | | | |")
            continue
        half, idle = flow.get("half_max") or {}, flow.get("idle") or {}
        out.append(
            f"| {name} | {_fmt(flow['max_confirmed_per_second'])} "
            f"({_fmt(flow['max_at_clients'])}) | "
            f"{_fmt(_get(half, 'latency_ms', 'p50'))} / {_fmt(_get(half, 'latency_ms', 'p99'))} | "
            f"{_fmt(_get(idle, 'latency_ms', 'p50'))} / {_fmt(_get(idle, 'latency_ms', 'p99'))} | "
            f"{_fmt(_best_cpu(results, key))} | {_fmt(ceiling(results, key, m['cpus']))} |")
    out += _ramp_table(results)
    outbox = results.get("outbox")
    if outbox:
        out += ["", "| outbox alone (no-op handler) | deliveries/s | "
                "commit → handled p50 / p99 ms |", "|---|---|---|"]
        fast_rate = _get(results, "options", "outbox", "rate")
        for phase, name in (("fast_path", f"fast path, one event per transaction, paced at "
                                          f"{_fmt(fast_rate)}/s"),
                            ("backlog", "backlog drained by the sweep")):
            if phase in outbox:
                p = outbox[phase]
                out.append(f"| {name} ({p['events']:,} events) | "
                           f"{_fmt(p['deliveries_completed_per_second'])} | "
                           f"{_fmt(p['latency_ms']['p50'])} / {_fmt(p['latency_ms']['p99'])} |")
    recon = results.get("reconciler")
    if recon:
        out += ["", "| reconciler pass | median ms (min to max) |", "|---|---|"]
        for key, name in (("alone", f"{recon['drifted']:,} drifted sagas alone"),
                          ("beside_converged", f"the same beside {recon['converged']:,} "
                                               "converged")):
            p = recon[key]["pass_ms"]
            out.append(f"| {name} | {p['median']} ({p['min']} to {p['max']}) |")
    out += ["", "| ratio | value |", "|---|---|"]
    out += [f"| {name.replace('_', ' ')} | {_fmt(value)} |"
            for name, value in results["ratios"].items()]
    out += ["", "| target (issue 6) | wanted | measured | met |", "|---|---|---|---|"]
    out += [f"| {t['target']} | {t['wanted']} | {_fmt(t['measured'])} | "
            f"{NONE if t['met'] is None else 'yes' if t['met'] else '**no**'} |"
            for t in results["targets"]]
    return "\n".join(out) + "\n"


def _ramp_table(results: dict[str, Any]) -> list[str]:
    flows = [(key, name) for key, name in FLOWS if _get(results, key, "ramp")]
    if not flows:
        return []
    counts = sorted({s["clients"] for key, _ in flows for s in results[key]["ramp"]})
    out = ["", "| clients | " + " | ".join(f"{k.replace('_', ' ')}: confirmed/s, p50 ms"
                                           for k, _ in flows) + " |",
           "|---" * (len(flows) + 1) + "|"]
    for n in counts:
        cells = []
        for key, _ in flows:
            step = next((s for s in results[key]["ramp"] if s["clients"] == n), None)
            cells.append(NONE if step is None else
                         f"{_fmt(step['confirmed_per_second'])}, "
                         f"{_fmt(step['latency_ms']['p50'])}"
                         + ("" if step["ok"] else " (not ok)"))
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    return out
