"""The handler registry: stable names used once, and no event that nobody reacts to."""

from __future__ import annotations

import copy
import importlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.apps import apps

from outbox import contracts, registry, upcasting
from outbox.contracts import event


@pytest.fixture
def scratch_registry() -> Iterator[None]:
    """Registrations made by the test are forgotten afterwards."""
    saved = (copy.deepcopy(registry._by_name), copy.deepcopy(registry._by_event),
             dict(upcasting._upcasters), dict(contracts._EVENT_CLASSES))
    yield
    registry._by_name.clear()
    registry._by_name.update(saved[0])
    registry._by_event.clear()
    registry._by_event.update(saved[1])
    upcasting._upcasters.clear()
    upcasting._upcasters.update(saved[2])
    contracts._EVENT_CLASSES.clear()
    contracts._EVENT_CLASSES.update(saved[3])


@event("probe.RegistryScratch", version=1, terminal=True)
@dataclass(frozen=True)
class Scratch:
    n: int


def test_a_handler_name_used_twice_is_refused(scratch_registry):
    @registry.handles(Scratch, name="probe.react")
    def react(event: Scratch, envelope: object) -> None: ...

    def react_again(event: Scratch, envelope: object) -> None: ...

    with pytest.raises(registry.DuplicateHandlerName, match=r"probe\.react"):
        registry.handles(Scratch, name="probe.react")(react_again)

    assert [s.func for s in registry.subscriptions("probe.RegistryScratch")] == [react]


def test_registering_the_same_handler_again_is_harmless(scratch_registry):
    def react(event: Scratch, envelope: object) -> None: ...

    registry.handles(Scratch, name="probe.react")(react)
    registry.handles(Scratch, name="probe.react")(react)  # a module imported twice

    assert len(registry.subscriptions("probe.RegistryScratch")) == 1


def test_a_handler_name_must_say_its_context():
    with pytest.raises(ValueError, match=r"<context>\.<action>"):
        registry.handles(Scratch, name="react")


def test_an_event_type_registered_twice_is_refused(scratch_registry):
    with pytest.raises(ValueError, match="registered twice"):
        @event("probe.RegistryScratch")
        @dataclass(frozen=True)
        class Impostor:
            n: int


def test_an_event_that_nobody_handles_and_is_not_terminal_is_reported(scratch_registry):
    @event("probe.Orphan")
    @dataclass(frozen=True)
    class Orphan:
        n: int

    assert "probe.Orphan" in registry.unhandled_event_types()


def test_upcasting_without_a_registered_step_is_a_clear_error():
    with pytest.raises(LookupError, match=r"no upcaster for probe.Pinged from schema version 0"):
        upcasting.upcast("probe.Pinged", 0, {}, 2)


def test_every_event_type_of_the_installed_apps_is_handled_or_marked_terminal():
    for app in apps.get_app_configs():
        for module in ("events", "handlers"):
            try:
                importlib.import_module(f"{app.name}.{module}")
            except ModuleNotFoundError as missing:
                if missing.name != f"{app.name}.{module}":
                    raise

    assert registry.unhandled_event_types() == []
