"""Structured logging: the ids of the request or delivery being handled are on every line."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import transaction

from common.message_context import message_context
from config.logging import CorrelationFilter, JsonFormatter
from outbox import store
from outbox.models import Delivery
from tests.conftest import wait_for
from tests.probe.events import Pinged
from tests.probe.models import Breakage

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the root logger writes, as the project's JSON handler would write it."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


def parsed(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line]


def test_a_json_line_carries_the_correlation_and_causation_in_force(json_lines):
    log = logging.getLogger("inventory.handlers")
    with message_context(correlation="order-17", causation="4242", by="handler:x.y"):
        log.info("reserved %s", "SKU-1", extra={"sku": "SKU-1"})
    log.info("between messages")

    inside, outside = parsed(json_lines)
    assert inside["message"] == "reserved SKU-1"
    assert inside["correlation_id"] == "order-17"
    assert inside["causation_id"] == "4242"
    assert inside["actor"] == "handler:x.y"
    assert inside["sku"] == "SKU-1"
    assert inside["level"] == "INFO" and inside["logger"] == "inventory.handlers"
    assert outside["correlation_id"] == "-" and outside["causation_id"] == "-"


def _log_from_configured_django(log_format: str, logger: str = "orders.services",
                                **env: str) -> list[str]:
    """Write one line through settings.LOGGING in a fresh process; return what it printed."""
    code = (
        "import logging, django\n"
        "django.setup()\n"
        "from common.message_context import message_context\n"
        "with message_context(correlation='order-9', causation='77'):\n"
        f"    logging.getLogger({logger!r}).warning('order held')\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "DJANGO_SECRET_KEY": "x" * 50, "LOG_FORMAT": log_format, **env}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    return result.stderr.strip().splitlines()


def test_the_configured_json_log_is_one_object_per_line_with_the_ids():
    line = json.loads(_log_from_configured_django("json")[-1])
    assert line["message"] == "order held"
    assert line["correlation_id"] == "order-9"
    assert line["causation_id"] == "77"


def test_the_configured_text_log_shows_the_ids_readably():
    line = _log_from_configured_django("text")[-1]
    assert "WARNING orders.services [corr=order-9 cause=77] order held" in line


def test_django_lines_are_written_once_and_formatted_in_development():
    # Django's own DEBUG console handler would add a bare copy of every django.* line.
    lines = _log_from_configured_django("text", "django.request", DJANGO_DEBUG="1")
    held = [line for line in lines if "order held" in line]
    assert len(held) == 1 and "[corr=order-9 cause=77]" in held[0]


def test_a_request_gets_an_x_request_id(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert len(response["X-Request-ID"]) == 32


def test_a_request_echoes_its_request_id_and_every_line_carries_it(client, json_lines):
    response = client.get("/no-such-page", headers={"X-Request-ID": "req-abc.123"})

    assert response["X-Request-ID"] == "req-abc.123"
    lines = parsed(json_lines)
    # Django's "Not Found" warning and the access line, both written while handling it.
    assert {line["logger"] for line in lines} >= {"django.request", "http.access"}
    assert [line["logger"] for line in lines].count("django.request") == 1  # not twice
    assert {line["correlation_id"] for line in lines} == {"request:req-abc.123"}
    access = next(line for line in lines if line["logger"] == "http.access")
    assert access["status"] == 404
    assert access["message"] == "GET /no-such-page 404"


def test_a_malformed_request_id_is_replaced_not_logged(client, json_lines):
    response = client.get("/no-such-page", headers={"X-Request-ID": "x" * 65})
    assert response["X-Request-ID"] != "x" * 65
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_worker_lines_are_json_and_a_failed_delivery_names_its_order(start_worker, broker):
    worker = start_worker(LOG_FORMAT="json")
    Breakage.objects.create(key="log-probe", permanent=True)
    with transaction.atomic():
        (event,) = store.append("probe", "log-1", 0, [Pinged(key="log-probe")],
                                correlation_id="order-log-1")
    delivery = Delivery.objects.get(event=event, handler="probe.record_ping")
    wait_for(lambda: Delivery.objects.get(id=delivery.id).status == Delivery.Status.DEAD,
             message="the delivery to go dead")
    wait_for(lambda: f"delivery {delivery.id} to probe.record_ping is dead" in worker.output(),
             message="the dead-letter line")

    lines = [json.loads(line) for line in worker.output().splitlines() if line.startswith("{")]
    dead = next(line for line in lines if "is dead" in line["message"])
    assert dead["correlation_id"] == "order-log-1"
    assert dead["causation_id"] == str(event.id)
    # Celery's own lines go through the same formatter (the worker's "ready." line).
    assert any(line["logger"].startswith("celery") and "ready" in line["message"]
               for line in lines)
