"""docker-compose.yml: every process, healthchecks, and start order by depends_on conditions.

No Docker engine runs where the tests run. When the Compose client is installed,
`docker compose config` parses and normalises the file (and rejects what Compose would);
otherwise the YAML itself is checked.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = {"web", "worker", "beat"}
LONG_RUNNING = APP_SERVICES | {"postgres", "redis"}


def _compose_client() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def compose() -> dict:
    if _compose_client():
        result = subprocess.run(
            ["docker", "compose", "-f", "docker-compose.yml", "config", "--format", "json"],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def command(service: dict) -> str:
    value = service["command"]
    return value if isinstance(value, str) else shlex.join(value)


def conditions(service: dict) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in service.get("depends_on", {}).items()}


def test_compose_runs_every_process_of_the_design(compose):
    assert set(compose["services"]) == {"postgres", "redis", "migrate", "web", "worker", "beat"}


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_every_long_running_service_has_a_healthcheck(compose, name):
    test = compose["services"][name]["healthcheck"]["test"]
    assert test and test[0] in {"CMD", "CMD-SHELL"}


def test_the_processes_run_the_commands_of_the_design(compose):
    services = compose["services"]
    assert command(services["web"]).startswith("gunicorn config.wsgi -c gunicorn.conf.py")
    assert command(services["worker"]).startswith("celery -A config worker")
    beat = command(services["beat"])
    assert beat.startswith("celery -A config beat")
    assert "-S django_celery_beat.schedulers:DatabaseScheduler" in beat
    migrate = command(services["migrate"])
    assert "manage.py migrate" in migrate and "manage.py seed_demo" in migrate


def test_demo_data_is_seeded_only_when_asked(compose):
    # seed_demo creates users with tokens: never on a plain `up`, only with SEED_DEMO=1.
    migrate = command(compose["services"]["migrate"])
    assert 'if [ "$$SEED_DEMO" = 1 ]; then python manage.py seed_demo; fi' in migrate
    assert compose["services"]["migrate"]["environment"]["SEED_DEMO"] == "${SEED_DEMO:-0}"


def test_the_management_commands_compose_runs_exist():
    assert {"migrate", "seed_demo"} <= set(get_commands())


def test_migrate_waits_for_healthy_database_and_broker(compose):
    assert conditions(compose["services"]["migrate"]) == {
        "postgres": "service_healthy",
        "redis": "service_healthy",
    }
    assert compose["services"]["migrate"].get("restart", "no") == "no"  # a one-shot


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_processes_start_after_a_successful_migration(compose, name):
    assert conditions(compose["services"][name]) == {
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "migrate": "service_completed_successfully",
    }


def test_the_health_checks_probe_what_matters(compose):
    services = compose["services"]
    # Liveness, not readiness: a broker stop leaves web serving (DESIGN "Failure contract").
    web_check = " ".join(services["web"]["healthcheck"]["test"])
    assert "/livez" in web_check and "/healthz" not in web_check
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    beat_check = " ".join(services["beat"]["healthcheck"]["test"])
    assert "--pidfile /tmp/celerybeat.pid" in command(services["beat"])
    assert "/tmp/celerybeat.pid" in beat_check


@pytest.mark.parametrize("name", sorted(APP_SERVICES | {"migrate"}))
def test_app_containers_reach_the_compose_database_and_broker(compose, name):
    env = compose["services"][name]["environment"]
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert env["DJANGO_SECRET_KEY"]


def test_the_image_installs_from_the_lock_and_collects_its_static_files():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.13-slim" in dockerfile
    assert "pip install --require-hashes -r requirements/lock-deploy.txt" in dockerfile
    assert "pip install --no-deps ." in dockerfile
    assert "manage.py collectstatic --noinput" in dockerfile


def test_the_worker_consumes_every_queue_by_default(compose):
    # tests/test_project_queues.py checks the list against the routing table.
    assert " -Q " in f" {command(compose['services']['worker'])} "
