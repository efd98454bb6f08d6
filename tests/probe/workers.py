"""Reading what real workers did, from their own records: the delivery rows, the row locks
they hold, and the lines they log (Celery logs every task's result)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import Protocol

from django.db import transaction

from outbox.models import Delivery

_TASK_RESULT = re.compile(r"Task outbox\.deliver\[[^\]]+\] succeeded in [\d.]+s: (\{.*?\})")


class HasOutput(Protocol):
    def output(self) -> str: ...


def task_results(procs: Iterable[HasOutput], since: dict[int, int] | None = None
                 ) -> list[dict[str, int]]:
    """The outcome counts of every `outbox.deliver` task the workers finished (after `since`)."""
    results = []
    for proc in procs:
        text = proc.output()[(since or {}).get(id(proc), 0):]
        results += [ast.literal_eval(m.group(1)) for m in _TASK_RESULT.finditer(text)]
    return results


def log_marks(procs: Iterable[HasOutput]) -> dict[int, int]:
    """Where each worker's log ends now (pass to `task_results(since=...)`)."""
    return {id(proc): len(proc.output()) for proc in procs}


def is_being_handled(delivery_id: int) -> bool:
    """True while a worker holds the delivery's row lock (its handler is running)."""
    with transaction.atomic():
        free = (Delivery.objects.select_for_update(skip_locked=True)
                .filter(id=delivery_id, status=Delivery.Status.PENDING).exists())
    return not free and Delivery.objects.filter(id=delivery_id, status="pending").exists()
