"""Who reacts to which event: handlers (run later, by delivery) and projectors (run in the
appending transaction). Upcasters are in `outbox.upcasting`.

Handler names are stored in delivery rows, so they are stable strings (`"inventory.reserve_stock"`)
chosen once, never module paths.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from outbox.contracts import DomainEvent, event_types
from outbox.envelope import Envelope

HandlerFunc = Callable[[Any, Envelope], None]
ProjectorFunc = Callable[[Any, Envelope], None]


@dataclass(frozen=True)
class Subscription:
    name: str
    event_type: str
    func: HandlerFunc

    @property
    def context(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def queue(self) -> str:
        if settings.OUTBOX_QUEUE_MODE == "per_context":
            return self.context
        return settings.CELERY_TASK_DEFAULT_QUEUE


_by_name: dict[str, list[Subscription]] = defaultdict(list)
_by_event: dict[str, list[Subscription]] = defaultdict(list)
_projectors: dict[str, list[ProjectorFunc]] = defaultdict(list)


class DuplicateHandlerName(ValueError):
    pass


def handles(*events: type[DomainEvent], name: str) -> Callable[[HandlerFunc], HandlerFunc]:
    """Subscribe a handler, under a stable `name`, to one or more event types."""
    if "." not in name:
        raise ValueError(f"handler name {name!r} must be '<context>.<action>'")

    def register(func: HandlerFunc) -> HandlerFunc:
        ident = f"{func.__module__}.{func.__qualname__}"
        existing = _by_name.get(name, [])
        if any(f"{s.func.__module__}.{s.func.__qualname__}" != ident for s in existing):
            raise DuplicateHandlerName(f"handler name {name!r} is used twice")
        for cls in events:
            if any(s.name == name for s in _by_event[cls.event_type]):
                continue  # a module re-import registers the same thing again
            sub = Subscription(name=name, event_type=cls.event_type, func=func)
            _by_name[name].append(sub)
            _by_event[cls.event_type].append(sub)
        return func

    return register


def projects(*events: type[DomainEvent]) -> Callable[[ProjectorFunc], ProjectorFunc]:
    """Run `func` inside the transaction that appends any of `events` (read models)."""

    def register(func: ProjectorFunc) -> ProjectorFunc:
        for cls in events:
            ident = (func.__module__, func.__qualname__)
            if all((f.__module__, f.__qualname__) != ident for f in _projectors[cls.event_type]):
                _projectors[cls.event_type].append(func)
        return func

    return register


def subscriptions(event_type: str) -> list[Subscription]:
    return _by_event.get(event_type, [])


def projectors(event_type: str) -> list[ProjectorFunc]:
    return _projectors.get(event_type, [])


def subscription(handler_name: str, event_type: str) -> Subscription:
    for sub in _by_name.get(handler_name, []):
        if sub.event_type == event_type:
            return sub
    raise LookupError(f"no handler {handler_name!r} for {event_type}")


def delivery_queues() -> set[str]:
    """Every queue a delivery can be sent to under the current OUTBOX_QUEUE_MODE."""
    return {sub.queue for subs in _by_name.values() for sub in subs}


def unhandled_event_types() -> list[str]:
    """Event types that no handler subscribes to and that are not marked terminal."""
    return sorted(
        name
        for name, cls in event_types().items()
        if not cls.terminal and not _by_event.get(name)
    )
