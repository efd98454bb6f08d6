"""CPU and memory of the processes a measurement runs (psutil): per role (web, worker, beat,
the PostgreSQL backends of the run's database, ...) and for the whole machine, so a figure
measured on a shared machine says how much of the CPU was someone else's. The chaos harness,
the load test, `manage.py bench` and the outbox benchmark all measure with this one meter."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil
from django.db import connection

Pids = Callable[[], list[int]]


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process; None when it is gone."""
    process = _process(pid)
    try:
        times = process.cpu_times() if process else None
    except psutil.Error:
        return None
    return None if times is None else times.user + times.system


def rss_bytes(pid: int) -> int:
    process = _process(pid)
    try:
        return process.memory_info().rss if process else 0
    except psutil.Error:
        return 0


def descendants(pid: int | None) -> list[int]:
    """The process's children, their children, and so on (not the process itself)."""
    process = _process(pid) if pid is not None else None
    try:
        return [child.pid for child in process.children(recursive=True)] if process else []
    except psutil.Error:
        return []


def tree(pid: int | None) -> list[int]:
    """The process and its descendants."""
    return [] if pid is None else [pid, *descendants(pid)]


def database_backends(*, include_own: bool = False) -> list[int]:
    """The PostgreSQL backends serving the run's database (without this process's own
    unless asked). Their CPU is visible only when PostgreSQL runs on this machine."""
    query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    if not include_own:
        query += " AND pid <> pg_backend_pid()"
    with connection.cursor() as cursor:
        cursor.execute(query)
        return [row[0] for row in cursor.fetchall()]


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    times = psutil.cpu_times()
    total = sum(times)
    idle = times.idle + getattr(times, "iowait", 0.0)
    return total - idle, total


@dataclass
class CpuMeter:
    """CPU seconds used per role between samples. `roles` maps a role to a function giving
    its root pids now (each counted with its descendants); `alone`, to pids counted without
    them. A pid seen in two consecutive samples contributes its delta; a pid new to its role
    after the first sample (a process started or restarted since) contributes all it used: its
    whole life lies in the window. (Creation times cannot say it: Linux gives them to the
    second.)"""

    roles: dict[str, Pids] = field(default_factory=dict)
    alone: dict[str, Pids] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)
    _last: dict[str, dict[int, float]] = field(default_factory=dict)
    _seen: dict[str, set[int]] = field(default_factory=dict)
    _machine: tuple[float, float] | None = None
    machine_used: float = 0.0
    machine_total: float = 0.0

    def sample(self) -> None:
        whole = {role: (lambda roots=roots: [p for r in roots() for p in tree(r)])
                 for role, roots in self.roles.items()}
        for role, pids in {**whole, **self.alone}.items():
            now = {pid: s for pid in pids() if (s := cpu_seconds(pid)) is not None}
            first = role not in self._last
            before, seen = self._last.get(role, {}), self._seen.setdefault(role, set())
            delta = sum(max(0.0, s - before[p]) if p in before else s
                        for p, s in now.items() if p in before or not (first or p in seen))
            self.used[role] = self.used.get(role, 0.0) + delta
            self._last[role] = now
            seen.update(now)
        machine = machine_busy_seconds()
        if self._machine is not None:
            self.machine_used += machine[0] - self._machine[0]
            self.machine_total += machine[1] - self._machine[1]
        self._machine = machine

    def per_unit_ms(self, units: int) -> dict[str, float]:
        """Milliseconds of CPU per unit of work (e.g. per delivery), by role."""
        return {role: round(seconds * 1000 / units, 3) for role, seconds in self.used.items()}

    def summary(self, seconds: float) -> dict[str, object]:
        """CPU seconds and share of one core per role; the machine's busy share, and how
        much of it was not this run's (other users of a shared machine)."""
        if seconds <= 0:
            return {"available": False}
        ours = sum(self.used.values())
        return {
            "available": True,
            "seconds": round(seconds, 1),
            "cpu_seconds": {role: round(s, 2) for role, s in self.used.items()},
            "cores_used": {role: round(s / seconds, 2) for role, s in self.used.items()},
            "machine_cores": os.cpu_count() or 1,
            "machine_busy_share": round(self.machine_used / self.machine_total, 3)
            if self.machine_total else None,
            "others_cores_used": round(max(0.0, self.machine_used - ours) / seconds, 2)
            if self.machine_total else None,
        }
