"""A no-op subscriber that lives in the real system, so the outbox can be measured where it
runs (`manage.py bench_outbox`) without touching any bounded context.

The handler does nothing: the delivery row's `done_at`, written in the handler's own commit,
is the handled-at time; commit-to-handled latency is `done_at` minus the appender's commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from outbox.contracts import event
from outbox.envelope import Envelope
from outbox.registry import handles, subscription

STREAM_TYPE = "outbox.Diagnostics"
HANDLER = "outbox.diagnostic_noop"


@event("outbox.DiagnosticPing", version=1)
@dataclass(frozen=True)
class DiagnosticPing:
    run: str
    seq: int


@handles(DiagnosticPing, name=HANDLER)
def diagnostic_noop(event: DiagnosticPing, envelope: Envelope) -> None:
    """Nothing to do: the delivery itself is what is being measured."""


def diagnostic_queue() -> str:
    """The queue the no-op deliveries go to (workers for a benchmark must consume it)."""
    return subscription(HANDLER, DiagnosticPing.event_type).queue
