"""The real system as child processes: gunicorn, one or more Celery workers, beat on the
DatabaseScheduler. Each runs in its own session (process group), so Ctrl-C reaches only the
harness, which then stops them in order; a SIGKILL of the group is a machine dying.

Every process connects with its own PostgreSQL `application_name` (`harness-web`,
`harness-worker-1`, `harness-beat`), so a chaos run can find and terminate its backends.
"""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from lab.stack.database import with_application_name

FAULT_VARIABLES = ("PAYMENTS_FAULTS", "SHIPPING_FAULTS", "OUTBOX_CHAOS")
WORKER_APPLICATION = "harness-worker"
START_TIMEOUT = 90.0


class StackError(RuntimeError):
    """A process of the stack would not start (its log's tail is in the message)."""


class Proc:
    """One child process (and its children), with its output appended to a log file."""

    def __init__(self, name: str, argv: list[str], log: Path,
                 ready: Callable[[Proc], bool]) -> None:
        self.name, self.argv, self.log, self.ready = name, argv, log, ready
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._offset = 0

    def start(self, env: dict[str, str]) -> None:
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(self.argv, cwd=settings.BASE_DIR, env=env, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        self.starts += 1

    def output(self) -> str:
        """What this start of the process has written so far."""
        with self.log.open("rb") as f:
            f.seek(self._offset)
            return f.read().decode(errors="replace")

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready(self):
            if not self.alive:
                raise StackError(f"{self.name} exited at start:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise StackError(f"{self.name} not ready after {timeout:.0f}s:\n"
                                 f"{self.output()[-3000:]}")
            time.sleep(0.1)

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, no acks."""
        self.send_signal(signal.SIGKILL)
        self.reap(10)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (a warm shutdown: running tasks finish), then SIGKILL after `timeout`."""
        stop_all([self], timeout)

    def send_signal(self, sig: int) -> None:
        if self.popen is not None:
            try:
                os.killpg(self.popen.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def reap(self, timeout: float) -> bool:
        try:
            if self.popen is not None:
                self.popen.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False


def stop_all(procs: list[Proc], timeout: float = 20.0) -> None:
    """SIGTERM every process group at once, wait up to `timeout` for them all, then SIGKILL
    what is left (pool children that outlived their parent included)."""
    for proc in procs:
        if proc.alive:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        if not proc.reap(max(0.1, deadline - time.monotonic())):
            proc.send_signal(signal.SIGKILL)
            proc.reap(10)
        proc.send_signal(signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _logged(text: str) -> Callable[[Proc], bool]:
    return lambda proc: text in proc.output()


def _answers_health(port: int) -> Callable[[Proc], bool]:
    def ready(proc: Proc) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False

    return ready


@dataclass
class StackConfig:
    workers: int = 2
    concurrency: int = 2  # prefork processes per worker
    web_workers: int = 2
    web_threads: int = 4
    env: dict[str, str] = field(default_factory=dict)  # timings etc., for every process
    fault_env: dict[str, str] = field(default_factory=dict)  # while faults are on
    # Workers at these indexes run without inline hops, so every hop crosses the broker.
    no_inline_hops: frozenset[int] = frozenset()
    # Confirmation e-mails written to files under the log directory (to count them), else
    # kept in memory (nothing written).
    mail_to_files: bool = False


class Stack:
    """web + workers + beat on `database_url` and `redis_url`; logs under `log_dir`."""

    def __init__(self, database_url: str, redis_url: str, config: StackConfig,
                 log_dir: Path) -> None:
        self.database_url, self.redis_url, self.config = database_url, redis_url, config
        self.log_dir = log_dir
        self.port = free_port()
        self.faults_on = False
        # One secret for every process of the stack (a token sealed by web is opened by a
        # worker), unless the environment gives one.
        self.secret_key = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_hex(32)
        py = sys.executable
        self.web = Proc("web", [py, "-m", "gunicorn", "config.wsgi", "-c", "gunicorn.conf.py"],
                        log_dir / "web.log", _answers_health(self.port))
        self.workers = [
            Proc(f"worker-{i}", [py, "-m", "celery", "-A", "config", "worker", "-P", "prefork",
                                 "-c", str(config.concurrency), "-n", f"harness-{i}@%h",
                                 "-Q", f"{settings.CELERY_TASK_DEFAULT_QUEUE},"
                                 f"{settings.MAINTENANCE_QUEUE}", "--without-gossip",
                                 "--without-mingle", "--without-heartbeat", "-l", "INFO"],
                 log_dir / f"worker-{i}.log", _logged("ready."))
            for i in range(1, config.workers + 1)
        ]
        self.beat = Proc("beat", [py, "-m", "celery", "-A", "config", "beat", "-S",
                                  "django_celery_beat.schedulers:DatabaseScheduler",
                                  "--max-interval", "1", "-s", str(log_dir / "beat-schedule"),
                                  "-l", "INFO"],
                         log_dir / "beat.log", _logged("beat: Starting"))

    @property
    def mail_dir(self) -> Path:
        return self.log_dir / "mail"

    def mails(self) -> str:
        """Every e-mail the stack's processes wrote (with `mail_to_files`)."""
        return "".join(p.read_text(errors="replace") for p in sorted(self.mail_dir.glob("*")))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def processes(self) -> list[Proc]:
        return [self.web, *self.workers, self.beat]

    def env(self, role: str, *, faults: bool = False, index: int = 0) -> dict[str, str]:
        """The environment of one process of the stack."""
        env = dict(os.environ)
        # Measured as deployed: DEBUG off (with DEBUG on Django records every query in memory).
        env.update({"DJANGO_SECRET_KEY": self.secret_key, "DJANGO_DEBUG": "0",
                    "DATABASE_URL": with_application_name(self.database_url, f"harness-{role}"),
                    "REDIS_URL": self.redis_url, "LOG_FORMAT": "text", "PYTHONUNBUFFERED": "1",
                    "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
                    "PORT": str(self.port), "WEB_HOST": "127.0.0.1",
                    "WEB_WORKERS": str(self.config.web_workers),
                    "WEB_THREADS": str(self.config.web_threads)})
        if self.config.mail_to_files:
            env.update(DJANGO_EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
                       EMAIL_FILE_PATH=str(self.mail_dir))
        env.update(self.config.env)
        for name in FAULT_VARIABLES:
            env[name] = self.config.fault_env.get(name, "") if faults else ""
        if index in self.config.no_inline_hops:
            env["OUTBOX_INLINE_HOPS"] = "0"
        return env

    def start(self, *, faults: bool = False) -> None:
        """Start every process (all at once) and wait until each is ready."""
        self.faults_on = faults
        self.web.start(self.env("web", faults=faults))
        for i, worker in enumerate(self.workers, start=1):
            worker.start(self._worker_env(i))
        self.beat.start(self.env("beat"))
        try:
            for proc in self.processes:
                proc.wait_ready()
        except BaseException:
            self.stop()
            raise

    def _worker_env(self, index: int) -> dict[str, str]:
        return self.env(f"worker-{index}", faults=self.faults_on, index=index)

    def kill_worker(self, index: int) -> None:
        self.workers[index - 1].kill()

    def start_worker(self, index: int) -> None:
        worker = self.workers[index - 1]
        worker.start(self._worker_env(index))
        worker.wait_ready()

    def kill_beat(self) -> None:
        self.beat.kill()

    def start_beat(self) -> None:
        self.beat.start(self.env("beat"))
        self.beat.wait_ready()

    def without_faults(self) -> None:
        """Restart web and workers with no fault variables (warm shutdown first); beat is
        started again if it is down. The stack is fault-free when this returns."""
        self.faults_on = False
        stop_all([self.web, *self.workers])
        self.web.start(self.env("web"))
        for i, worker in enumerate(self.workers, start=1):
            worker.start(self._worker_env(i))
        if not self.beat.alive:
            self.beat.start(self.env("beat"))
        for proc in self.processes:
            proc.wait_ready()

    def stop(self) -> None:
        """Stop everything this stack started (beat first: it sends work to the workers)."""
        self.beat.stop(timeout=10)
        stop_all([self.web, *self.workers], timeout=10)

    def logs(self) -> dict[str, str]:
        return {proc.name: proc.log.read_text(errors="replace") for proc in self.processes
                if proc.log.exists()}
