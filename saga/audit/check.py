"""One invariant's verdict: how much was checked, and every violation found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Check:
    number: int
    name: str
    checked: int = 0
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_json(self, limit: int = 100) -> dict[str, Any]:
        return {"invariant": self.number, "name": self.name, "ok": self.ok,
                "checked": self.checked, "violation_count": len(self.violations),
                "violations": self.violations[:limit], "notes": self.notes}
