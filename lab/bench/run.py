"""One bench run: the chosen parts in turn, then the JSON file and the Markdown table."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.utils import timezone

from common.progress import Progress
from lab.bench import results as report
from lab.bench.ramp import Plan
from lab.bench.side import OutboxSize, ReconcilerSize, side_database
from lab.bench.system import StackSize
from lab.figures import write_json

PARTS = ("system", "naive", "dbos", "outbox", "reconciler")
# Cores used by other processes during a step above which the figures count as contended.
CONTENDED_CORES = 0.25


@dataclass
class BenchOptions:
    parts: tuple[str, ...] = PARTS
    plan: Plan = field(default_factory=Plan)
    stack: StackSize = field(default_factory=StackSize)
    dbos_processes: int = 2
    outbox: OutboxSize = field(default_factory=OutboxSize)
    reconciler: ReconcilerSize = field(default_factory=ReconcilerSize)
    output_dir: Path = Path("bench-results")
    label: str = ""
    smoke: bool = False


SMOKE = BenchOptions(
    plan=Plan(clients=(1, 2), orders=4, duration=None, idle_rate=5.0, idle_orders=2,
              idle_duration=None, deadline=60.0),
    stack=StackSize(workers=1, concurrency=1, web_workers=1, web_threads=2),
    dbos_processes=1,
    outbox=OutboxSize(fast_events=5, rate=100.0, backlog_events=30, workers=1, concurrency=1,
                      timeout=60.0),
    reconciler=ReconcilerSize(drifted=5, converged=50, rounds=1),
    smoke=True,
)


def run_bench(opts: BenchOptions, ui: Progress) -> dict[str, Any]:
    from lab.bench.dbos_run import run_dbos
    from lab.bench.naive_run import run_naive
    from lab.bench.side import run_outbox, run_reconciler
    from lab.bench.system import run_system

    results: dict[str, Any] = {
        "kind": "bench", "smoke": opts.smoke, "label": opts.label,
        "started_at": timezone.now().isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "load_average_at_start": _load()},
        "options": _plain(asdict(opts)),
    }
    if "system" in opts.parts:
        results["system"] = run_system(opts.plan, opts.stack, ui)
    if "naive" in opts.parts:
        results["naive_chain"] = run_naive(opts.plan, opts.stack, ui)
    if "dbos" in opts.parts:
        results["dbos"] = run_dbos(opts.plan, opts.dbos_processes, ui)
    if {"outbox", "reconciler"} & set(opts.parts):
        with side_database(opts.stack.scratch, ui):
            if "outbox" in opts.parts:
                results["outbox"] = run_outbox(opts.outbox, ui)
            if "reconciler" in opts.parts:
                results["reconciler"] = run_reconciler(opts.reconciler, ui)
    results["finished_at"] = timezone.now().isoformat()
    results["machine"]["load_average_at_end"] = _load()
    others = [s.get("others_cores_used") or 0 for key in ("system", "naive_chain", "dbos")
              for s in _steps(results.get(key))]
    results["others_cores_used_max"] = round(max(others, default=0), 2)
    results["contended"] = results["others_cores_used_max"] > CONTENDED_CORES or \
        max(results["machine"]["load_average_at_start"][:1] or [0]) > (os.cpu_count() or 1)
    results["ratios"] = report.ratios(results)
    results["targets"] = report.targets(results)
    return results


def write(results: dict[str, Any], output_dir: Path) -> tuple[Path, Path]:
    json_path, md_path = output_dir / "bench.json", output_dir / "bench.md"
    write_json(results, json_path)
    md_path.write_text(report.markdown(results))
    return json_path, md_path


def _steps(flow: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not flow or "ramp" not in flow:
        return []
    return [*flow["ramp"], *(s for s in (flow.get("half_max"), flow.get("idle")) if s)]


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else []


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value
