"""Read models are written in one place: their context's `projections.py` (projectors run in the
appending transaction, and the rebuild). Nothing else (services, handlers, API, admin, tasks)
builds or writes a read-model row, so a rebuild cannot differ from what was written live.

The check reads the source (ast), so it needs no scenario to reach the write: every reference
to a read-model class is examined, and an SQL string that writes a read-model table is too.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
from django.db import models

ROOT = Path(__file__).resolve().parent.parent
# Contexts whose read models have a projections module (payments has snapshots only).
PROJECTING = ["orders", "inventory", "shipping", "saga"]
SCANNED = ["orders", "inventory", "payments", "shipping", "saga", "outbox", "config"]
# Queryset and model methods that write.
WRITES = {"create", "bulk_create", "update", "update_or_create", "get_or_create", "bulk_update",
          "delete", "save"}
CREATES = {"create", "bulk_create", "update_or_create", "get_or_create"}
# A saga row is the projection's plus the reconciler's bookkeeping (attention, backoff, the gap
# it observed), which the reconciler updates: only creating saga rows is the projection's alone.
SHARED = {"OrderSaga", "saga_ordersaga"}
# Where a read model may be written besides its projections module, and why.
ALLOWED = {
    # The semantic lock's moves (hold, release, commit) are the reservation's decision, made
    # with its events: a guard that fails refuses the command (see inventory/stock.py).
    ("inventory/stock.py", "inventory_stock"),
    # The saga's rebuild merges the projected columns with the reconciler's bookkeeping.
    ("saga/rebuild.py", "OrderSaga"),
}
SQL_WRITE = re.compile(r"\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)


def read_models() -> dict[str, tuple[str, type[models.Model]]]:
    """Read-model class name -> (its projections module's path, the class)."""
    found = {}
    for context in PROJECTING:
        module = importlib.import_module(f"{context}.projections")
        for cls in module.READ_MODELS:
            found[cls.__name__] = (f"{context}/projections.py", cls)
    return found


def sources() -> list[Path]:
    paths = []
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if {"tests", "migrations", "bench", "harness"} & set(parts) or (
                    path.name == "tests.py" or "bench" in path.name):
                continue  # tests and measurement tooling seed rows of their own
            paths.append(path)
    return paths


def _names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def writes_in(source: str, classes: set[str], tables: set[str]) -> list[tuple[int, str, str]]:
    """(line, read model or table, how) of every write of a read model in the source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in classes:
                found.append((node.lineno, func.id, "builds a row"))
            elif isinstance(func, ast.Attribute) and func.attr in WRITES:
                # `Model.objects....create(...)`: the class appears in the receiver chain.
                for name in _names_in(func.value) & classes:
                    if any(isinstance(n, ast.Attribute) and n.attr == "objects"
                           for n in ast.walk(func.value)):
                        if name not in SHARED or func.attr in CREATES:
                            found.append((node.lineno, name, f".{func.attr}()"))
            elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                  and func.value.id == "rows") or isinstance(func, ast.Name):
                called = func.attr if isinstance(func, ast.Attribute) else func.id
                if called in {"load", "first", "insert", "upsert", "update_changed"}:
                    for name in _names_in(node) & classes:
                        found.append((node.lineno, name, f"{called}() of the hot-path rows"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for match in SQL_WRITE.finditer(node.value):
                shared = match.group(2) in SHARED and not match.group(1).upper().startswith("I")
                if match.group(2) in tables and not shared:
                    found.append((node.lineno, match.group(2), "SQL write"))
    return found


def test_every_projecting_context_declares_its_read_models():
    owners = read_models()
    assert {"OrderView", "CatalogueEntry", "Product", "Stock", "Reservation", "Shipment",
            "OrderSaga"} <= set(owners)
    assert not [p for p in ROOT.glob("*/projection.py")], "the module is named projections.py"


def test_the_check_sees_each_way_of_writing_a_read_model():
    classes, tables = {"Shipment"}, {"shipping_shipment"}
    source = """
Shipment.objects.create(order_id="1")
Shipment.objects.filter(order_id="1").update(status="x")
rows.upsert(Shipment(order_id="1"))
row = rows.load(Shipment, "1")
execute("UPDATE shipping_shipment SET status = %s")
Shipment.objects.filter(order_id="1").first()
"""
    assert sorted((line, how) for line, _, how in writes_in(source, classes, tables)) == [
        (2, ".create()"), (3, ".update()"), (4, "builds a row"),
        (4, "upsert() of the hot-path rows"), (5, "load() of the hot-path rows"),
        (6, "SQL write")]


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_projections_write_read_models(path):
    owners = read_models()
    here = str(path.relative_to(ROOT))
    classes = {name for name, (owner, _) in owners.items() if owner != here}
    tables = {cls._meta.db_table for owner, cls in owners.values() if owner != here}
    offending = [f"{here}:{line}: {what} ({how})"
                 for line, what, how in writes_in(path.read_text(), classes, tables)
                 if (here, what) not in ALLOWED]
    assert not offending, "read models are written by their projectors only:\n" + "\n".join(
        offending)
