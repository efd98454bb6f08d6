"""The probe's aggregate: a counter that refuses to go negative. Plain Python, like every
context's domain."""

from __future__ import annotations

from typing import Any, Self

from outbox.contracts import Aggregate, DomainEvent
from tests.probe.events import Counted


class Counter(Aggregate):
    stream_type = "probe.Counter"

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.total = 0
        self.changes = 0

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, Counted):
            self.total += event.amount
            self.changes += 1

    def add(self, amount: int) -> list[DomainEvent]:
        if self.total + amount < 0:
            raise ValueError("a counter cannot go below zero")
        return [Counted(amount=amount)]

    def snapshot(self) -> dict[str, Any]:
        return {"total": self.total, "changes": self.changes}

    @classmethod
    def restore(cls, stream_id: str, version: int, state: dict[str, Any]) -> Self:
        counter = cls(stream_id)
        counter.version = version
        counter.total = state["total"]
        counter.changes = state["changes"]
        return counter
