"""CPU time spent by the parts of the system during a benchmark phase (Linux /proc), so a
figure measured on a shared, busy machine can be read as a cost per delivery."""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.db import connection

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += _children(current)
    return tree


def database_backends() -> list[int]:
    """The PostgreSQL backends connected to this process's database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return [row[0] for row in cursor.fetchall()]


class CpuMeter:
    """CPU seconds used between `start()` and `stop()` by the worker processes, the database's
    backends (visible to /proc only when PostgreSQL runs on this machine) and this process."""

    def __init__(self, worker_pids: list[int]) -> None:
        self.worker_pids = worker_pids

    def _sample(self) -> dict[str, dict[int, float]]:
        pool = [p for pid in self.worker_pids for p in process_tree(pid)[1:]]
        return {
            # The worker's main process takes messages from the broker and hands them to its
            # pool processes, which run the deliveries.
            "worker_main": {p: _cpu_seconds(p) for p in self.worker_pids},
            "worker_pool": {p: _cpu_seconds(p) for p in pool},
            "postgres": {p: _cpu_seconds(p) for p in database_backends()},
        }

    def start(self) -> None:
        self._before = self._sample()
        self._own = time.process_time()

    def stop(self, deliveries: int) -> dict[str, float]:
        after = self._sample()
        own = time.process_time() - self._own
        used = {
            part: sum(after[part][p] - self._before[part].get(p, 0.0) for p in after[part])
            for part in after
        }
        used["bench_process"] = own
        return {part: round(seconds * 1000 / deliveries, 3) for part, seconds in used.items()}
