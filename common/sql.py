"""Hot-path SQL: statements prepared once per connection, and one-row reads and writes of a model
without the ORM's query compiler.

Every delivery reads and writes a handful of rows; through the ORM each statement costs more
Python (building, compiling, quoting) than PostgreSQL spends running it, and, bound on the
client side, PostgreSQL parses and plans it again every time. Here a statement's text is built
once per shape, bound on the server and prepared after its first few runs (psycopg's
`prepare_threshold`); Django's error wrapper still sees every error, so a broken connection is
noticed and replaced as with the ORM.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Any

import orjson
import psycopg
from django.db import connections, models

DB = "default"


def fetchall(sql: str, params: Sequence[Any] = (), *, using: str = DB) -> list[tuple[Any, ...]]:
    """Run one statement with server-side binding; its rows (none for a statement without)."""
    rows, _ = _run(sql, params, using)
    return rows


def _run(sql: str, params: Sequence[Any], using: str) -> tuple[list[tuple[Any, ...]], int]:
    connection = connections[using]
    connection.ensure_connection()
    started = time.monotonic() if connection.queries_logged else None
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)  # type: ignore[arg-type]
        rows = cursor.fetchall() if cursor.description is not None else []
        rowcount = cursor.rowcount
    if started is not None:
        # Logged as the ORM's debug cursor does, so DEBUG and query-counting tests see it.
        connection.queries_log.append({"sql": f"{sql} -- {list(params)!r}",
                                       "time": f"{time.monotonic() - started:.3f}"})
    return rows, rowcount


def fetchone(sql: str, params: Sequence[Any] = (), *, using: str = DB) -> tuple[Any, ...] | None:
    rows = fetchall(sql, params, using=using)
    return rows[0] if rows else None


def execute(sql: str, params: Sequence[Any] = (), *, using: str = DB) -> int:
    """Run one statement; how many rows it changed."""
    _, rowcount = _run(sql, params, using)
    return rowcount


def decoded(value: Any) -> Any:
    """A JSONB value from a raw cursor: Django's connection hands it over as text."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


@functools.cache
def _columns(model: type[models.Model]) -> tuple[tuple[models.Field[Any, Any], ...], str]:
    fields = tuple(f for f in model._meta.concrete_fields)
    return fields, ", ".join(f'"{f.column}"' for f in fields)


@functools.cache
def _select_sql(model: type[models.Model], lock: bool) -> str:
    _, columns = _columns(model)
    pk = model._meta.pk.column  # type: ignore[union-attr]
    return (f'SELECT {columns} FROM "{model._meta.db_table}" WHERE "{pk}" = %s'
            + (" FOR UPDATE" if lock else ""))


def load[M: models.Model](model: type[M], pk: Any, *, lock: bool = False) -> M | None:
    """The row as a model instance (FOR UPDATE with `lock`), or None."""
    row = fetchone(_select_sql(model, lock), [pk])
    return None if row is None else _instance(model, row, DB)


def first[M: models.Model](model: type[M], *, using: str = DB, **equal: Any) -> M | None:
    """The first row (by primary key) whose columns equal `equal`, or None."""
    names = tuple(sorted(equal))
    row = fetchone(_first_sql(model, names), [equal[name] for name in names], using=using)
    return None if row is None else _instance(model, row, using)


@functools.lru_cache(maxsize=256)
def _first_sql(model: type[models.Model], names: tuple[str, ...]) -> str:
    _, columns = _columns(model)
    where = " AND ".join(f'"{model._meta.get_field(name).column}" = %s' for name in names)
    pk = model._meta.pk.column  # type: ignore[union-attr]
    return (f'SELECT {columns} FROM "{model._meta.db_table}" WHERE {where} '
            f'ORDER BY "{pk}" LIMIT 1')


def _instance[M: models.Model](model: type[M], row: tuple[Any, ...], using: str) -> M:
    fields, _ = _columns(model)
    connection = connections[using]
    values = []
    for field, value in zip(fields, row, strict=True):
        # What the ORM does on a read: JSON text decoded, and the like.
        for convert in field.get_db_converters(connection):
            value = convert(value, None, connection)
        values.append(value)
    return model.from_db(using, [f.attname for f in fields], values)


def values_of(instance: models.Model) -> dict[str, Any]:
    """The instance's column values, to compare with after a change (see `update_changed`)."""
    fields, _ = _columns(type(instance))
    return {f.attname: getattr(instance, f.attname) for f in fields}


def update_changed(instance: models.Model, before: dict[str, Any]) -> int:
    """UPDATE only the columns whose value differs from `before`; rows changed (0 when
    nothing did: no statement is sent)."""
    model = type(instance)
    fields, _ = _columns(model)
    connection = connections[DB]
    changed = [f for f in fields if not f.primary_key
               and getattr(instance, f.attname) != before.get(f.attname)]
    if not changed:
        return 0
    pk = model._meta.pk
    sql = _update_sql(model, tuple(f.column for f in changed))
    params = [f.get_db_prep_save(getattr(instance, f.attname), connection) for f in changed]
    params.append(pk.get_db_prep_value(instance.pk, connection))  # type: ignore[union-attr]
    return execute(sql, params)


@functools.lru_cache(maxsize=512)
def _update_sql(model: type[models.Model], columns: tuple[str, ...]) -> str:
    assignments = ", ".join(f'"{column}" = %s' for column in columns)
    pk = model._meta.pk.column  # type: ignore[union-attr]
    return f'UPDATE "{model._meta.db_table}" SET {assignments} WHERE "{pk}" = %s'


def insert(instance: models.Model, *, unless_present: bool = False, using: str = DB) -> bool:
    """INSERT the instance (an auto primary key left unset is assigned by the database and
    set on it); with `unless_present`, nothing if the row would break a unique constraint.
    Whether it inserted."""
    model = type(instance)
    auto = instance.pk is None and isinstance(model._meta.pk, models.AutoField)
    fields = _insert_fields(model, auto)
    connection = connections[using]
    params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    rows = fetchall(_insert_sql(model, auto, unless_present), params, using=using)
    if not rows:
        return False
    if auto:
        instance.pk = rows[0][0]
    instance._state.adding = False
    instance._state.db = using
    return True


def _insert_fields(model: type[models.Model], auto: bool) -> tuple[models.Field[Any, Any], ...]:
    fields, _ = _columns(model)
    return tuple(f for f in fields if not (auto and f.primary_key))


@functools.cache
def _insert_sql(model: type[models.Model], auto: bool, unless_present: bool) -> str:
    fields = _insert_fields(model, auto)
    columns = ", ".join(f'"{f.column}"' for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    pk = model._meta.pk.column  # type: ignore[union-attr]
    return (f'INSERT INTO "{model._meta.db_table}" ({columns}) VALUES ({placeholders})'
            + (" ON CONFLICT DO NOTHING" if unless_present else "") + f' RETURNING "{pk}"')


def upsert(instance: models.Model, fields: tuple[str, ...] | None = None) -> None:
    """INSERT the row, or overwrite the columns `fields` (every column when None) of the one
    with its primary key: one statement (a read model row written by its projector)."""
    model = type(instance)
    all_fields, _ = _columns(model)
    connection = connections[DB]
    params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in all_fields]
    execute(_upsert_sql(model, fields), params)
    instance._state.adding = False
    instance._state.db = DB


@functools.lru_cache(maxsize=256)
def _upsert_sql(model: type[models.Model], names: tuple[str, ...] | None) -> str:
    fields, _ = _columns(model)
    pk = model._meta.pk.column  # type: ignore[union-attr]
    overwritten = [f for f in fields if not f.primary_key
                   and (names is None or f.attname in names or f.name in names)]
    updates = ", ".join(f'"{f.column}" = EXCLUDED."{f.column}"' for f in overwritten)
    fields_sql = ", ".join(f'"{f.column}"' for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    return (f'INSERT INTO "{model._meta.db_table}" ({fields_sql}) VALUES ({placeholders}) '
            f'ON CONFLICT ("{pk}") DO UPDATE SET {updates}')
