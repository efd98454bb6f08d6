"""Figures of a measurement: percentiles, slopes, the machine, the JSON file."""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile (q in 0..1) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def distribution(seconds: list[float], *, unit: str = "s") -> dict[str, Any]:
    """count, p50, p90, p99, max and mean of `seconds`, in seconds ("s") or ms ("ms")."""
    scale = 1000.0 if unit == "ms" else 1.0
    values = [s * scale for s in seconds]

    def rounded(v: float | None) -> float | None:
        return None if v is None else round(v, 1 if unit == "ms" else 2)

    return {"count": len(values), "unit": unit,
            "p50": rounded(percentile(values, 0.50)), "p90": rounded(percentile(values, 0.90)),
            "p99": rounded(percentile(values, 0.99)), "max": rounded(max(values, default=None)),
            "mean": rounded(statistics.fmean(values)) if values else None}


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of y over x (units of y per unit of x); None under two points."""
    if len(points) < 2:
        return None
    xs, ys = zip(*points, strict=True)
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    if var == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpus": os.cpu_count(), "load_average": [round(v, 2) for v in load] if load else None}


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
