"""README's two commands and what they stand on: scripts/bootstrap, scripts/services, the
Procfile and gunicorn.conf.py that scripts/run starts, and scripts/test's own guard."""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent


def script(name: str, *args: str, env: dict[str, str] | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / "scripts" / name), *args], cwd=ROOT,
                          env=env if env is not None else dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_the_procfile_runs_web_worker_and_beat():
    processes = procfile()
    assert set(processes) == {"web", "worker", "beat"}
    assert processes["web"].startswith("gunicorn config.wsgi -c gunicorn.conf.py")
    assert processes["worker"].startswith("celery -A config worker")
    assert processes["beat"].startswith("celery -A config beat")
    assert "-S django_celery_beat.schedulers:DatabaseScheduler" in processes["beat"]


def _gunicorn_settings(monkeypatch, **env: str) -> dict:
    for name in ("WEB_HOST", "PORT", "WEB_WORKERS", "WEB_THREADS", "LOG_FORMAT", "DJANGO_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_listens_on_loopback_port_8000_unless_told_otherwise(monkeypatch):
    assert _gunicorn_settings(monkeypatch)["bind"] == "127.0.0.1:8000"
    assert _gunicorn_settings(monkeypatch, PORT="8123", WEB_HOST="0.0.0.0")["bind"] == (
        "0.0.0.0:8123"
    )


def test_gunicorn_logs_through_the_project_formatter(monkeypatch):
    conf = _gunicorn_settings(monkeypatch)["logconfig_dict"]
    assert conf["handlers"]["console"]["formatter"] == "json"  # production default
    assert conf["handlers"]["console"]["filters"] == ["context"]
    # Gunicorn's own loggers hand their lines to the root handler instead of their own.
    assert conf["loggers"]["gunicorn.error"] == {"level": "INFO", "handlers": [],
                                                 "propagate": True}
    text = _gunicorn_settings(monkeypatch, DJANGO_DEBUG="1")["logconfig_dict"]
    assert text["handlers"]["console"]["formatter"] == "text"


def test_bootstrap_without_python_312_says_what_to_install(tmp_path):
    # A PATH holding only a python3 that fails every check, as on a machine with 3.11 alone,
    # and no pyenv (HOME has no .pyenv).
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/bash\nexit 1\n")
    fake.chmod(0o755)
    result = subprocess.run(["/bin/bash", str(ROOT / "scripts" / "bootstrap")], cwd=tmp_path,
                            env={"PATH": str(tmp_path), "HOME": str(tmp_path),
                                 "VENV": str(tmp_path / "venv")},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "no Python >= 3.12" in result.stderr
    assert "pyenv install 3.13" in result.stderr
    assert not (tmp_path / "venv").exists()


def needs_a_bootstrapped_venv() -> None:
    """These run scripts/bootstrap on the running .venv: only where it made that venv."""
    venv = Path(sys.prefix)
    if venv != ROOT / ".venv" or not (venv / ".bootstrap-stamp").exists():
        pytest.skip("runs in the .venv that scripts/bootstrap made (as scripts/test does)")


def test_bootstrap_is_a_quick_no_op_when_nothing_changed():
    needs_a_bootstrapped_venv()
    result = script("bootstrap")
    assert result.returncode == 0, result.stderr
    assert ".venv is up to date" in result.stderr
    assert "installing" not in result.stderr


def test_services_creates_the_database_when_it_is_missing():
    name = f"saga_services_probe_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}"}
    try:
        result = script("services", env=env)
        assert result.returncode == 0, result.stderr
        assert f"created database {name}" in result.stderr
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname=name):
            pass
        again = script("services", env=env)
        assert again.returncode == 0 and "created" not in again.stderr
    finally:
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_services_fails_clearly_when_the_broker_does_not_answer():
    # Not the standard local port, so nothing is started: it waits, then says what is wrong.
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0", "SERVICES_WAIT_SECONDS": "1"}
    result = script("services", env=env)
    assert result.returncode == 1
    assert "Redis does not answer at REDIS_URL=redis://127.0.0.1:1/0" in result.stderr


def test_the_test_command_counts_no_tests_as_a_failure():
    needs_a_bootstrapped_venv()
    result = script("test", "tests/test_project_scripts.py", "-k", "no_test_has_this_name",
                    timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "pytest collected no tests; that is a failure here" in result.stderr


def test_ci_runs_the_readme_test_command():
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[0] == "set -euo pipefail"
    assert re.fullmatch(r"(exec )?(bash )?scripts/test", lines[-1])
