"""Event contracts and the aggregate base: plain Python, no Django, so domains can use them.

An event is a frozen dataclass decorated with `@event("context.Name", version=N)`. The type
name is stored in the database, so it is chosen once and never derived from a module path.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, ClassVar, Self

_EVENT_CLASSES: dict[str, type[DomainEvent]] = {}


class DomainEvent:
    """Marker base of every event dataclass; `@event` fills the class attributes."""

    event_type: ClassVar[str]
    schema_version: ClassVar[int]
    terminal: ClassVar[bool]


def event[E: type[DomainEvent]](
    type_name: str, *, version: int = 1, terminal: bool = False
) -> Callable[[E], E]:
    """Register a frozen dataclass as the event contract `type_name` at schema `version`.

    `terminal=True` says that no handler is expected to react to it (the registry check
    fails on an event nobody handles unless it is marked so).
    """

    def register(cls: E) -> E:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls.__name__} must be a dataclass to be an event")
        if type_name in _EVENT_CLASSES and _EVENT_CLASSES[type_name] is not cls:
            raise ValueError(f"event type {type_name!r} is registered twice")
        cls.event_type = type_name
        cls.schema_version = version
        cls.terminal = terminal
        _EVENT_CLASSES[type_name] = cls
        return cls

    return register


def event_class(type_name: str) -> type[DomainEvent]:
    try:
        return _EVENT_CLASSES[type_name]
    except KeyError:
        raise LookupError(f"unknown event type {type_name!r}") from None


def event_types() -> dict[str, type[DomainEvent]]:
    return dict(_EVENT_CLASSES)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_payload(value)  # a nested value (an order line, an address)
    return value


def to_payload(ev: DomainEvent) -> dict[str, Any]:
    """The JSON form of an event: Decimals become strings, tuples become lists, nested
    dataclasses become objects."""
    return {f.name: _jsonable(getattr(ev, f.name)) for f in dataclasses.fields(ev)}  # type: ignore[arg-type]


def _coerce(value: Any, annotation: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(annotation)
    if annotation is Decimal:
        return Decimal(str(value))
    if origin is tuple:
        args = typing.get_args(annotation)
        item = args[0] if args else Any
        return tuple(_coerce(v, item) for v in value)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _coerce(value, arg)
    if dataclasses.is_dataclass(annotation) and isinstance(value, dict):
        return from_payload(annotation, value)  # type: ignore[arg-type]
    return value


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    # Resolving string annotations is slow and the answer never changes: once per class.
    return typing.get_type_hints(cls)


def from_payload[E: DomainEvent](cls: type[E], payload: dict[str, Any]) -> E:
    """Rebuild an event (or a nested value dataclass) from its current-schema JSON form."""
    hints = _type_hints(cls)
    kwargs = {
        f.name: _coerce(payload[f.name], hints[f.name])
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name in payload
    }
    return cls(**kwargs)


class Aggregate:
    """Base of event-sourced aggregates.

    `apply(event)` folds one event into the state; command methods check rules and return
    the new events without applying them; the repository applies and saves them.
    `snapshot()` / `restore()` give the one-row form the repository stores beside the events.
    """

    stream_type: ClassVar[str]

    def __init__(self, stream_id: str) -> None:
        self.id = stream_id
        self.version = 0

    def apply(self, event: DomainEvent) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def fold(self, events: Iterable[DomainEvent]) -> Self:
        for ev in events:
            self.apply(ev)
            self.version += 1
        return self

    def snapshot(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def restore(  # pragma: no cover - abstract
        cls, stream_id: str, version: int, state: dict[str, Any]
    ) -> Self:
        raise NotImplementedError
