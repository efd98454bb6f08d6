"""Fixtures that run the real thing: a Celery worker and beat as subprocesses against the test
database and a Redis database of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
# own_redis, own_postgres, start_web: outages a test controls.
pytest_plugins = ["tests.support.outages"]


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.05,
             message: str = "condition") -> object:
    """Poll until `predicate()` is truthy; fail the test with `message` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@pytest.fixture(scope="session")
def mail_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="saga-mail-") as path:
        yield Path(path)


@pytest.fixture(scope="session")
def process_env(django_db_setup: None, mail_dir: Path) -> dict[str, str]:
    """The environment of worker and beat subprocesses: same test database and broker."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=_database_url(),
        REDIS_URL=settings.CELERY_BROKER_URL,
        SAGA_TEST_APPS="1",
        LOG_FORMAT="text",
        DJANGO_EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail_dir),
        PYTHONUNBUFFERED="1",
    )
    return env


class Proc:
    """A child process (worker or beat) with its log file, killable like a real one."""

    def __init__(self, argv: list[str], env: dict[str, str], name: str, ready: str | None) -> None:
        self.name = name
        self.log = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self._log_file = self.log.open("wb")
        self.popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self._log_file,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        if ready:
            wait_for(lambda: ready in self.output() or self.popen.poll() is not None, timeout=60,
                     message=f"{name} to start")
            if self.popen.poll() is not None:
                pytest.fail(f"{name} exited at start:\n{self.output()[-4000:]}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def child_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.popen.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, no acks, like a machine dying."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill()
        self._log_file.close()


@pytest.fixture
def start_worker(process_env: dict[str, str]) -> Iterator[Callable[..., Proc]]:
    """Start a real Celery worker (prefork) on the test database; stopped after the test."""
    started: list[Proc] = []

    def start(concurrency: int = 2, queues: str | None = None, **env: str) -> Proc:
        name = f"w{len(started)}-{uuid.uuid4().hex[:6]}"
        # Every worker also serves the maintenance queue (sweep, reconciler), as in production.
        served = f"{queues or settings.CELERY_TASK_DEFAULT_QUEUE},{settings.MAINTENANCE_QUEUE}"
        argv = [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork",
                "-c", str(concurrency), "-n", f"{name}@%h", "-Q",
                served, "--without-gossip",
                "--without-mingle", "--without-heartbeat", "-l", "INFO"]
        proc = Proc(argv, {**process_env, **env}, name, ready="ready.")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def worker(start_worker: Callable[..., Proc]) -> Proc:
    return start_worker()


@pytest.fixture
def start_beat(process_env: dict[str, str]) -> Iterator[Callable[..., Proc]]:
    """Start real celery beat on the database scheduler (runs the outbox sweep every second),
    with `env` over the test environment; stopped after the test."""
    started: list[Proc] = []

    def start(**env: str) -> Proc:
        schedule_file = tempfile.mktemp(prefix="beat-")
        argv = [sys.executable, "-m", "celery", "-A", "config", "beat", "-S",
                "django_celery_beat.schedulers:DatabaseScheduler", "--max-interval", "1",
                "-s", schedule_file, "-l", "INFO"]
        proc = Proc(argv, {**process_env, **env}, "beat", ready="beat: Starting")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def beat(start_beat: Callable[..., Proc]) -> Proc:
    return start_beat()


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    """The test broker's Redis database, emptied before and after the test."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def fresh_throttles() -> Iterator[None]:
    """Throttle counters live in the Redis cache: each test starts and leaves it empty."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
