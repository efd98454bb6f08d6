"""Every queue the project routes work to has a consumer in the shipped process files
(Procfile for scripts/run, docker-compose.yml), in either OUTBOX_QUEUE_MODE."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from outbox import registry

ROOT = Path(__file__).resolve().parent.parent
# "${CELERY_WORKER_QUEUES:-a,b}": what the shell (Procfile) or Compose uses when it is unset.
DEFAULTED = re.compile(r"^\$\{\w+:-([^}]*)\}$")
# tests/probe's context: installed for the test run only (SAGA_TEST_APPS), never deployed.
TEST_ONLY_QUEUES = {"probe"}


def procfile_worker() -> list[str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    processes = dict(line.split(": ", 1) for line in lines if line.strip())
    return shlex.split(processes["worker"])


def compose_worker() -> list[str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["worker"]["command"]
    return shlex.split(command) if isinstance(command, str) else command


def consumed(argv: list[str], default_queue: str) -> set[str]:
    """The queues `celery worker` consumes with these arguments and no environment set."""
    if "-Q" not in argv:
        return {default_queue}
    value = argv[argv.index("-Q") + 1]
    match = DEFAULTED.match(value)
    return set((match.group(1) if match else value).split(","))


def routed(settings) -> set[str]:
    """Every queue a message can be sent to: deliveries, beat's jobs, task routes, the default."""
    queues = registry.delivery_queues() - TEST_ONLY_QUEUES | {settings.CELERY_TASK_DEFAULT_QUEUE}
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        queues.add(entry.get("options", {}).get("queue", settings.CELERY_TASK_DEFAULT_QUEUE))
    for route in (getattr(settings, "CELERY_TASK_ROUTES", None) or {}).values():
        queues.add(route["queue"] if isinstance(route, dict) else route)
    return queues


@pytest.mark.parametrize("mode", ["single", "per_context"])
@pytest.mark.parametrize("source", [procfile_worker, compose_worker],
                         ids=["Procfile", "docker-compose.yml"])
def test_every_routed_queue_has_a_worker(settings, mode, source):
    settings.OUTBOX_QUEUE_MODE = mode
    queues = routed(settings)
    if mode == "per_context":  # the point of the mode: more than the one default queue
        assert len(queues) > 1, queues
    unconsumed = queues - consumed(source(), settings.CELERY_TASK_DEFAULT_QUEUE)
    assert not unconsumed, f"no worker consumes {sorted(unconsumed)} in {source.__name__}"
