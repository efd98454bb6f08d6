"""The shipped Prometheus alert rules and Grafana dashboard read metrics this project exports.

A rule over a metric nobody exports never fires, and nothing says so: these tests scrape the real
`/metrics` and check every series each expression names (and `promtool check rules` when the
binary is on the machine)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from saga.tasks import refresh_metrics

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "saga-dashboard.json"
# Series of this project: every name that starts so must be exported.
OURS = re.compile(r"\b((?:saga|outbox)_[a-z0-9_]+)(\{[^}]*\})?")
MATCHER = re.compile(r'(\w+)="([^"]*)"')


def rule_expressions() -> dict[str, str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def dashboard_expressions() -> dict[str, str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return {f"{panel['title']}/{target['refId']}": target["expr"]
            for panel in panels for target in panel["targets"]}


@pytest.fixture
def exported() -> dict[str, list[dict[str, str]]]:
    """Sample name -> the label sets it is exported with, from a real scrape. A labelled family
    with no sample yet (no correction made) is declared all the same: it maps to no label set."""
    Client().get("/api/products/")  # so the request counter has a sample
    refresh_metrics()  # what beat does every SAGA_METRICS_REFRESH_SECONDS
    text = Client().get("/metrics").content.decode()
    samples: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(text):
        suffix = "_total" if family.type == "counter" else ""
        samples.setdefault(family.name + suffix, [])
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(dict(sample.labels))
    return samples


def unknown_series(expr: str, exported: dict[str, list[dict[str, str]]]) -> list[str]:
    unknown = []
    for name, selector in OURS.findall(expr):
        wanted = dict(MATCHER.findall(selector or ""))
        if name not in exported:
            unknown.append(name)
        elif wanted and not any(wanted.items() <= labels.items() for labels in exported[name]):
            unknown.append(f"{name}{selector}")
    return unknown


@pytest.mark.django_db
def test_every_alert_rule_reads_a_series_the_project_exports(exported):
    rules = rule_expressions()
    assert {"SagasNeedAttention", "SagaInFlightOverBudget", "OutboxDeadDeliveries",
            "OutboxLagging"} <= rules.keys()
    for alert, expr in rules.items():
        assert OURS.search(expr), f"{alert} names no metric of this project: {expr}"
        assert not unknown_series(expr, exported), (
            f"{alert} reads series /metrics does not export: {unknown_series(expr, exported)}")


@pytest.mark.django_db
def test_every_dashboard_panel_reads_a_series_the_project_exports(exported):
    expressions = dashboard_expressions()
    assert expressions
    for panel, expr in expressions.items():
        assert OURS.search(expr), f"panel {panel} names no metric of this project: {expr}"
        assert not unknown_series(expr, exported), (
            f"panel {panel} reads series /metrics does not export: "
            f"{unknown_series(expr, exported)}")


def test_every_rule_has_a_summary_and_a_severity():
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    for rule in (rule for group in groups for rule in group["rules"]):
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules_file():
    result = subprocess.run(["promtool", "check", "rules", str(ALERTS)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
