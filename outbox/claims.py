"""Taking deliveries: the two statements a worker runs for every delivery (or group).

1. **Charge** (its own short transaction, committed before any handler runs, as
   PostgreSQL-backed job queues do): count the attempt and lease the row. A worker that dies
   in the handler (a crash, SIGKILL, out of memory, a hard time limit) has still paid for the
   attempt, so a poison delivery cannot crash-loop its workers for ever: once it has used
   `OUTBOX_MAX_ATTEMPTS`, the next charge makes it dead with the reason "worker lost". Until
   the attempt ends, `last_error` says the worker was lost during it: that stays true only if
   the worker is lost, since success or a recorded failure overwrites it.
2. **Take** (inside the handler's transaction): lock the charged row, check it is still the
   attempt that was charged, mark it done and read its event. The mark only becomes visible
   if the handler succeeds and the transaction commits; a failure rolls it back.

A delivery whose previous attempt lost its worker is a suspect: a group charge leaves it out,
and it is charged and run alone, so only the poison one of a group pays for the crashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from common.sql import fetchall
from outbox.envelope import EVENT_COLUMNS

WORKER_LOST = "worker lost"

# `attempts` -1 means "any" (an old message without a count). Rows held by another worker are
# skipped. A suspect is charged only when `alone`; the rest are returned uncharged.
_CHARGE_SQL = """
WITH wanted AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(attempts)s::integer[]) AS w(id, attempts)
), locked AS MATERIALIZED (
    SELECT d.id, d.attempts, d.last_error LIKE %(lost_like)s AS suspect,
           -- Out of attempts with the last one lost with its worker. (A delivery past the
           -- limit otherwise is waiting out an outage, outbox/outages.py: it goes on.)
           d.attempts >= %(max)s AND d.last_error LIKE %(lost_like)s AS spent
    FROM outbox_delivery AS d JOIN wanted AS w ON w.id = d.id
    WHERE d.status = 'pending' AND (w.attempts < 0 OR d.attempts = w.attempts)
    FOR UPDATE OF d SKIP LOCKED
){async_commit}, charged AS (
    UPDATE outbox_delivery AS d
    SET attempts = CASE WHEN locked.spent THEN d.attempts ELSE d.attempts + 1 END,
        status = CASE WHEN locked.spent THEN 'dead' ELSE 'pending' END,
        next_attempt_at = now() + make_interval(secs => %(lease)s),
        last_error = CASE WHEN locked.spent
            THEN %(lost)s || ': its worker died or hung in each of ' || d.attempts
                 || ' attempts' || E'\\n' || d.last_error
            ELSE %(lost)s || ' during attempt ' || (d.attempts + 1) END
    FROM locked{also}
    WHERE d.id = locked.id AND (%(alone)s OR NOT locked.suspect)
    RETURNING d.id, d.attempts, d.status
)
SELECT locked.id, charged.attempts, charged.status FROM locked LEFT JOIN charged USING (id)
"""

# The take: the charged attempt only (a later charge by another worker makes this one stale).
_TAKE_SQL = """
WITH wanted AS (
    SELECT * FROM unnest(%s::bigint[], %s::integer[]) AS w(id, attempts)
), locked AS (
    SELECT d.id FROM outbox_delivery AS d JOIN wanted AS w ON w.id = d.id
    WHERE d.status = 'pending' AND d.attempts = w.attempts
    FOR UPDATE OF d SKIP LOCKED
){async_commit}
UPDATE outbox_delivery AS d
SET status = 'done', last_error = '', done_at = clock_timestamp()
FROM locked{also}, outbox_event AS e
WHERE d.id = locked.id AND e.id = d.event_id
RETURNING d.id, d.handler, d.attempts, e.id, {event_columns}
"""


def _commit_variants(sql: str) -> dict[bool, str]:
    """The statement as is, and (for OUTBOX_ASYNC_COMMIT) one that also makes its transaction
    commit without waiting for the WAL flush (SET LOCAL, so only delivery transactions): a
    commit lost in a database crash leaves the delivery pending (or its attempt uncounted),
    and it simply runs again. The take returns the event's columns as `Envelope.from_row`
    reads them."""
    event_columns = ", ".join(f"e.{column}" for column in EVENT_COLUMNS)
    return {
        False: sql.format(async_commit="", also="", event_columns=event_columns),
        True: sql.format(
            async_commit=",\nno_wait AS MATERIALIZED (\n"
            "    SELECT set_config('synchronous_commit', 'off', true)\n)",
            also=", no_wait",
            event_columns=event_columns,
        ),
    }


_CHARGE = _commit_variants(_CHARGE_SQL)
_TAKE = _commit_variants(_TAKE_SQL)


@dataclass
class Charge:
    """What a charge did: attempts charged (id -> the attempt's number, 1-based), suspects
    left uncharged (to be run alone), and deliveries made dead because their workers died."""

    charged: dict[int, int]
    suspects: list[int]
    dead: list[int]


def charge(items: list[tuple[int, int | None]], *, alone: bool) -> Charge:
    """Count one attempt of each delivery and lease it; one statement, committed at once.
    `items` are (delivery id, attempts the message was sent for, None for any)."""
    params = {
        "ids": [delivery_id for delivery_id, _ in items],
        "attempts": [-1 if n is None else n for _, n in items],
        "max": settings.OUTBOX_MAX_ATTEMPTS,
        "lease": settings.OUTBOX_LEASE_SECONDS,
        "lost": WORKER_LOST,
        "lost_like": WORKER_LOST + "%",
        "alone": alone,
    }
    with transaction.atomic():
        rows = fetchall(_CHARGE[settings.OUTBOX_ASYNC_COMMIT], params)
    result = Charge(charged={}, suspects=[], dead=[])
    for delivery_id, attempts, status in rows:
        if attempts is None:
            result.suspects.append(delivery_id)
        elif status == "dead":
            result.dead.append(delivery_id)
        else:
            result.charged[delivery_id] = attempts
    return result


def take(charged: list[tuple[int, int]]) -> list[tuple[Any, ...]]:
    """Inside the handlers' transaction: lock and mark done the charged attempts, in delivery
    order, as (id, handler, attempts, *event columns)."""
    ids = [delivery_id for delivery_id, _ in charged]
    attempts = [n for _, n in charged]
    return sorted(fetchall(_TAKE[settings.OUTBOX_ASYNC_COMMIT], [ids, attempts]))
