"""How every flow is driven: at increasing client counts (the maximum sustainable rate is the
best confirmed orders/s of a step that finished every order), then paced at half of that
maximum (the latency that matters), then idle (one client, a trickle)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab.figures import distribution


@dataclass(frozen=True)
class Load:
    clients: int
    orders: int | None = None  # per step; else `duration`
    duration: float | None = None
    rate: float | None = None  # orders/s in total; None: as fast as the clients go


@dataclass(frozen=True)
class Plan:
    clients: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    orders: int | None = None
    duration: float | None = 20.0
    idle_rate: float = 2.0
    idle_orders: int | None = None
    idle_duration: float | None = 10.0
    deadline: float = 300.0  # for every order of a step to finish


Measure = Callable[[Load], dict[str, Any]]


def step_figures(load: Load, *, placed: int, confirmed: int, pending: int,
                 span_seconds: float | None, placing_seconds: float, latencies: list[float],
                 cpu: dict[str, Any] | None, failures: list[str]) -> dict[str, Any]:
    """One step's figures in the shape every flow reports. `span_seconds`: first placed to
    last confirmed; `cpu`: cpu seconds by role (the load generator's excluded)."""
    cpu_seconds = sum((cpu or {}).values())
    return {
        "clients": load.clients, "rate": load.rate, "ok": not failures, "failures": failures,
        "placed": placed, "confirmed": confirmed, "pending": pending,
        "accepted_per_second": round(placed / placing_seconds, 1) if placing_seconds else None,
        "confirmed_per_second": round(confirmed / span_seconds, 1) if span_seconds else None,
        "latency_ms": distribution(latencies, unit="ms"),
        "cpu_seconds": {role: round(s, 2) for role, s in (cpu or {}).items()},
        "cpu_ms_per_order": round(cpu_seconds * 1000 / confirmed, 1) if confirmed and cpu
        else None,
    }


def others_cores(cpu: dict[str, Any]) -> float | None:
    """Cores the rest of the machine used during a step (the load generator included): busy
    cores minus the measured roles. The "harness" role is left out of the sum: it is the
    bench process's whole tree, which holds the stack it started."""
    if not cpu.get("available") or cpu.get("machine_busy_share") is None:
        return None
    ours = sum(v for role, v in cpu["cores_used"].items() if role != "harness")
    return round(max(0.0, cpu["machine_busy_share"] * cpu["machine_cores"] - ours), 2)


def ramp(measure: Measure, plan: Plan, say: Callable[[str], object]) -> dict[str, Any]:
    steps = []
    for clients in plan.clients:
        say(f"  {clients} client(s), as fast as they go ...")
        steps.append(measure(Load(clients, plan.orders, plan.duration)))
        say(f"    {_line(steps[-1])}")
    finished = [s for s in steps if s["ok"] and s["confirmed_per_second"]]
    best = max(finished, key=lambda s: s["confirmed_per_second"], default=None)
    result: dict[str, Any] = {"ramp": steps, "max_confirmed_per_second": None,
                              "max_at_clients": None, "half_max": None, "idle": None}
    if best is not None:
        result["max_confirmed_per_second"] = best["confirmed_per_second"]
        result["max_at_clients"] = best["clients"]
        half = round(best["confirmed_per_second"] / 2, 2)
        say(f"  half of the maximum: {half}/s from {best['clients']} client(s) ...")
        result["half_max"] = measure(Load(best["clients"], plan.orders, plan.duration, half))
        say(f"    {_line(result['half_max'])}")
    say(f"  idle: one client at {plan.idle_rate}/s ...")
    result["idle"] = measure(Load(1, plan.idle_orders, plan.idle_duration, plan.idle_rate))
    say(f"    {_line(result['idle'])}")
    return result


def _line(step: dict[str, Any]) -> str:
    lat = step["latency_ms"]
    text = (f"{step['confirmed']}/{step['placed']} confirmed, {step['confirmed_per_second']}/s; "
            f"placed->confirmed p50 {lat['p50']} ms, p99 {lat['p99']} ms; "
            f"CPU {step['cpu_ms_per_order']} ms/order")
    return text + (f"; FAILED: {'; '.join(step['failures'])}" if step["failures"] else "")
