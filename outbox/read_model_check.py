"""Comparing a context's read-model rows with the rows its events say they should be.

Every context rebuilds its read models in memory by its own folding code (nothing is
written) and compares them with its tables through here; the audit (invariant 6) adds the
contexts' comparisons up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import models


@dataclass(frozen=True)
class ReadModelComparison:
    """How many rows were compared, and every difference found, in words."""

    checked: int = 0
    differences: tuple[str, ...] = ()

    def __add__(self, other: ReadModelComparison) -> ReadModelComparison:
        return ReadModelComparison(self.checked + other.checked,
                                   self.differences + other.differences)


def compare_rows(what: str, expected: Iterable[models.Model], actual: Iterable[models.Model],
                 fields: Iterable[str] | None = None) -> ReadModelComparison:
    """Rows by primary key: missing, unsupported by any event, or differing in a field."""
    wanted = {row.pk: row for row in expected}
    stored = {row.pk: row for row in actual}
    if not wanted and not stored:
        return ReadModelComparison()
    model = type(next(iter((wanted or stored).values())))
    only = None if fields is None else set(fields)
    names = [f.attname for f in model._meta.concrete_fields if only is None or f.attname in only]
    differences = []
    for key in wanted.keys() | stored.keys():
        if key not in stored:
            differences.append(f"{what} {key} is missing (its events say it exists)")
        elif key not in wanted:
            differences.append(f"{what} {key} exists but no event supports it")
        else:
            differs = [n for n in names if getattr(stored[key], n) != getattr(wanted[key], n)]
            if differs:
                detail = ", ".join(f"{n}: {getattr(stored[key], n)!r} instead of "
                                   f"{getattr(wanted[key], n)!r}" for n in differs[:3])
                differences.append(f"{what} {key} differs from its events ({detail})")
    return ReadModelComparison(len(wanted.keys() | stored.keys()), tuple(differences))
