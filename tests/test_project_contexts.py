"""The bounded contexts are registered once (`settings.BOUNDED_CONTEXTS`); every place that
must know them follows that list, and the layering contracts name each one."""

from __future__ import annotations

import tomllib
from importlib.util import find_spec
from itertools import permutations
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import URLResolver

from config import api_urls
from outbox import registry
from saga.management.commands import rebuild_read_models

ROOT = Path(__file__).resolve().parent.parent
CONTEXTS = settings.BOUNDED_CONTEXTS
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def contract(name_start: str) -> dict:
    found = [c for c in PYPROJECT["tool"]["importlinter"]["contracts"]
             if c["name"].startswith(name_start)]
    assert len(found) == 1, f"one contract named {name_start!r}…"
    return found[0]


def test_the_list_holds_the_four_contexts_of_the_design():
    assert CONTEXTS == ["orders", "inventory", "payments", "shipping"]


def test_every_project_app_with_events_and_a_domain_is_a_registered_context():
    # An app that has the shape of a context but was added to INSTALLED_APPS by hand.
    shaped = {config.name for config in apps.get_app_configs()
              if Path(config.path).is_relative_to(ROOT) and not config.name.startswith("tests.")
              and (Path(config.path) / "events.py").exists()
              and (Path(config.path) / "domain.py").exists()}
    assert shaped == set(CONTEXTS)


@pytest.mark.parametrize("context", CONTEXTS)
def test_the_context_is_an_installed_app(context):
    assert apps.is_installed(context)


@pytest.mark.parametrize("context", CONTEXTS)
def test_the_contexts_routes_are_in_the_api(context):
    included = {entry.urlconf_module.__name__ for entry in api_urls.urlpatterns
                if isinstance(entry, URLResolver)}
    if find_spec(f"{context}.urls") is not None:
        assert f"{context}.urls" in included


@pytest.mark.parametrize("context", CONTEXTS)
def test_the_contexts_read_models_are_rebuilt(context):
    assert context in rebuild_read_models.CONTEXTS
    assert rebuild_read_models.rebuild_function(context) is not None


@pytest.mark.parametrize("context", CONTEXTS)
def test_the_context_has_a_queue_of_its_own_in_per_context_mode(context):
    assert context in settings.OUTBOX_CONTEXT_QUEUES


def test_every_handler_runs_on_a_declared_queue_in_per_context_mode(settings):
    settings.OUTBOX_QUEUE_MODE = "per_context"
    subscriptions = [s for subs in registry._by_name.values() for s in subs]
    assert subscriptions
    assert {s.queue for s in subscriptions} <= set(settings.OUTBOX_CONTEXT_QUEUES)
    assert {s.context for s in subscriptions} >= set(CONTEXTS)


def test_the_contexts_are_packaged_linted_and_tested():
    importlinter = PYPROJECT["tool"]["importlinter"]
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    testpaths = PYPROJECT["tool"]["pytest"]["ini_options"]["testpaths"]
    for context in CONTEXTS:
        assert context in importlinter["root_packages"]
        assert f"{context}*" in include
        assert context in testpaths


def test_the_layering_contracts_name_every_context():
    independent = contract("Bounded contexts talk only through each other's events")
    assert set(independent["modules"]) == set(CONTEXTS)
    # Each context may import every other's events, and only those.
    assert set(independent["ignore_imports"]) == {
        f"{importer}.** -> {imported}.events" for importer, imported in permutations(CONTEXTS, 2)}
    assert set(CONTEXTS) <= set(
        contract("The outbox is infrastructure")["forbidden_modules"])
    assert set(CONTEXTS) <= set(contract("Shared helpers import no app")["forbidden_modules"])
    assert set(contract("No context imports the saga")["source_modules"]) == set(CONTEXTS)
    assert set(contract("Domain modules are plain Python")["source_modules"]) == {
        f"{context}.domain" for context in CONTEXTS}
