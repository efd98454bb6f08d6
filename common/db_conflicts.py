"""Lock races the database settles by aborting one side: a deadlock (SQLSTATE 40P01) or a
serialization failure (40001). The aborted transaction did nothing; running it again wins, so
the API's write views and the outbox's deliveries retry it (README, "Lock order") instead of
answering a 500 or charging a delivery an attempt for someone else's lock."""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable

from django.db import connection

log = logging.getLogger(__name__)

CONFLICT_SQLSTATES = frozenset({"40P01", "40001"})
DEFAULT_ATTEMPTS = 4


class ConflictPersisted(Exception):
    """Every attempt lost its lock race: the caller answers 503 with Retry-After."""


def conflict_sqlstate(exc: BaseException | None) -> str | None:
    """The SQLSTATE of a deadlock or serialization failure in `exc` (Django wraps psycopg's
    error, so the chain of causes is searched), else None."""
    seen = 0
    while exc is not None and seen < 10:
        state = getattr(exc, "sqlstate", None)
        if state in CONFLICT_SQLSTATES:
            return state
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def is_conflict(exc: BaseException | None) -> bool:
    return conflict_sqlstate(exc) is not None


def jitter(attempt: int, *, base: float = 0.02, cap: float = 0.5) -> float:
    """Seconds to wait before retry `attempt` (1-based): full jitter under a capped doubling,
    so the two sides of a deadlock do not meet again at once."""
    return random.uniform(0, min(cap, base * 2 ** attempt))


def retry_on_conflict[**P, R](
    attempts: int = DEFAULT_ATTEMPTS,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the decorated function again (its own transactions start afresh) when it loses a
    lock race; after `attempts` losses raise ConflictPersisted. Inside an outer transaction
    nothing can be retried (the outer one is aborted too), so the error propagates as is."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            for attempt in range(1, attempts + 1):
                try:
                    return func(*args, **kwargs)
                except Exception as exc:
                    state = conflict_sqlstate(exc)
                    if state is None or connection.in_atomic_block:
                        raise
                    if attempt == attempts:
                        raise ConflictPersisted(
                            f"lost {attempts} lock races in a row (SQLSTATE {state})") from exc
                    log.warning("%s lost a lock race (SQLSTATE %s), retry %d of %d",
                                func.__qualname__, state, attempt, attempts - 1)
                    time.sleep(jitter(attempt))
            raise AssertionError("unreachable")

        return run

    return decorate
