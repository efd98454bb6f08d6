"""CPU and memory of the stack's processes, read from Linux /proc (no dependency): per role
(web, worker, beat, the PostgreSQL backends of the run's database) and for the whole machine,
so a figure measured on a shared machine says how much of the CPU was someone else's."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
AVAILABLE = Path("/proc/self/stat").exists()


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree(pid: int | None) -> list[int]:
    """The process and its descendants."""
    if pid is None:
        return []
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def database_backends() -> list[int]:
    """The PostgreSQL backends serving the run's database (other than this process's)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()")
        return [row[0] for row in cursor.fetchall()]


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values) - idle) / TICK, sum(values) / TICK


@dataclass
class CpuMeter:
    """CPU seconds used per role between samples. `roles` maps a role to a function giving
    its root pids now (each counted with its descendants); `alone`, to pids counted without
    them. A pid seen in two consecutive samples contributes its delta."""

    roles: dict[str, Callable[[], list[int]]]
    alone: dict[str, Callable[[], list[int]]] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)
    _last: dict[str, dict[int, float]] = field(default_factory=dict)
    _machine: tuple[float, float] | None = None
    machine_used: float = 0.0
    machine_total: float = 0.0

    def sample(self) -> None:
        if not AVAILABLE:
            return
        whole = {role: (lambda roots=roots: [p for r in roots() for p in tree(r)])
                 for role, roots in self.roles.items()}
        for role, pids in {**whole, **self.alone}.items():
            now = {}
            for pid in pids():
                seconds = cpu_seconds(pid)
                if seconds is not None:
                    now[pid] = seconds
            before = self._last.get(role, {})
            delta = sum(max(0.0, s - before[p]) for p, s in now.items() if p in before)
            self.used[role] = self.used.get(role, 0.0) + delta
            self._last[role] = now
        machine = machine_busy_seconds()
        if self._machine is not None:
            self.machine_used += machine[0] - self._machine[0]
            self.machine_total += machine[1] - self._machine[1]
        self._machine = machine

    def summary(self, seconds: float) -> dict[str, object]:
        """CPU seconds and share of one core per role; the machine's busy share, and how
        much of it was not this run's (other users of a shared machine)."""
        if not AVAILABLE or seconds <= 0:
            return {"available": False}
        ours = sum(self.used.values())
        cores = os.cpu_count() or 1
        return {
            "available": True,
            "seconds": round(seconds, 1),
            "cpu_seconds": {role: round(s, 2) for role, s in self.used.items()},
            "cores_used": {role: round(s / seconds, 2) for role, s in self.used.items()},
            "machine_cores": cores,
            "machine_busy_share": round(self.machine_used / self.machine_total, 3)
            if self.machine_total else None,
            "others_cores_used": round(max(0.0, self.machine_used - ours) / seconds, 2)
            if self.machine_total else None,
        }
