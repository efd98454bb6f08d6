"""The worker processes a benchmark runs against: started as subprocesses on the no-op
handler's queue, against the benchmark's own database and broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from outbox.diagnostics import diagnostic_queue


def database_url() -> str:
    """The URL of the database this process uses (the test database under pytest)."""
    db = connection.settings_dict
    user = quote(db.get("USER") or "postgres", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@dataclass
class StartedWorker:
    log: Path
    process: subprocess.Popen[bytes]

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"a benchmark worker exited ({self.process.returncode}):\n{tail}")


@contextmanager
def running_workers(count: int, concurrency: int, log_dir: Path) -> Iterator[list[StartedWorker]]:
    """Start `count` Celery workers (prefork, `concurrency` processes each) on the queue of
    the no-op handler, against this process's database and broker; stop them afterwards."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
        "PYTHONUNBUFFERED": "1",
        # Celery logs every task at INFO; that is the benchmark's noise, not the outbox's cost.
        "LOG_LEVEL": os.environ.get("BENCH_WORKER_LOG_LEVEL", "WARNING"),
    }
    procs: list[subprocess.Popen[bytes]] = []
    started: list[StartedWorker] = []
    try:
        for i in range(count):
            log = log_dir / f"bench-worker-{i}.log"
            argv = [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork",
                    "-c", str(concurrency), "-n", f"bench{i}-{uuid.uuid4().hex[:6]}@%h",
                    "-Q", diagnostic_queue(), "--without-gossip", "--without-mingle",
                    "--without-heartbeat", "-l", "WARNING"]
            with log.open("wb") as out:
                procs.append(subprocess.Popen(argv, cwd=settings.BASE_DIR, env=env, stdout=out,
                                              stderr=subprocess.STDOUT, start_new_session=True))
            started.append(StartedWorker(log, procs[-1]))
        yield started
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextmanager
def no_workers() -> Iterator[list[StartedWorker]]:
    yield []
