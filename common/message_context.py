"""The message being handled: its correlation id, causation id and actor.

A request or a delivery sets these once; every event appended and every log line written
while it runs carries them without being passed around by hand.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
causation_id: ContextVar[str | None] = ContextVar("causation_id", default=None)
actor: ContextVar[str | None] = ContextVar("actor", default=None)


@contextmanager
def message_context(
    *, correlation: str | None = None, causation: str | None = None, by: str | None = None
) -> Iterator[None]:
    tokens = [
        (correlation_id, correlation_id.set(correlation)),
        (causation_id, causation_id.set(causation)),
        (actor, actor.set(by)),
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
