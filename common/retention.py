"""Bounded growth: rows past their retention moved to an archive table, or deleted where they
are only a log, in bounded batches (each its own short transaction, rows other transactions
hold skipped), so a job never holds many locks or one long transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction

DEFAULT_BATCH = 1000
DEFAULT_MAX_BATCHES = 100


def _batches(sql: str, params: Sequence[Any], batch: int, max_batches: int) -> int:
    total = 0
    for _ in range(max_batches):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [*params, batch])
            done = cursor.rowcount
        total += done
        if done < batch:
            break
    return total


def delete_in_batches(table: str, where: str, params: Sequence[Any], *,
                      batch: int = DEFAULT_BATCH, max_batches: int = DEFAULT_MAX_BATCHES) -> int:
    """Delete the rows of `table` matching `where` (its own SQL, oldest ids first); returns
    how many went."""
    sql = (f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {where} "
           "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)")
    return _batches(sql, params, batch, max_batches)


def move_in_batches(table: str, archive: str, columns: Sequence[str], where: str,
                    params: Sequence[Any], *, batch: int = DEFAULT_BATCH,
                    max_batches: int = DEFAULT_MAX_BATCHES) -> int:
    """Move the rows of `table` matching `where` into `archive` (the same `columns`, plus its
    own `archived_at`), deleting and inserting in one statement; returns how many moved."""
    names = ", ".join(columns)
    sql = (f"WITH moved AS (DELETE FROM {table} WHERE id IN (SELECT id FROM {table} "
           f"WHERE {where} ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING {names}) "
           f"INSERT INTO {archive} ({names}, archived_at) SELECT {names}, now() FROM moved")
    return _batches(sql, params, batch, max_batches)
