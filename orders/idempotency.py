"""`Idempotency-Key` on order placement: per customer, remembered for at least 24 hours.

The answer is remembered in the placement's own transaction, only when an order was placed (a
refused request is not remembered, so the corrected one may reuse the key). The unique
(customer, key) constraint settles a race: the second writer's insert waits for the first
to commit, fails, rolls its whole placement back and replays the first answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from orders.models import IdempotencyKey
from orders.services import idempotency_retention

HEADER = "Idempotency-Key"
MAX_LENGTH = 255
_PRINTABLE = re.compile(r"[\x20-\x7e]+")


class InvalidKey(ValueError):
    pass


class KeyTaken(Exception):
    """Another request with the same key committed first."""


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: Any
    location: str
    fingerprint: str


def key_from(headers: Any) -> str | None:
    """The request's key, None when absent; `InvalidKey` when unusable."""
    if HEADER not in headers:
        return None
    key = headers[HEADER].strip()
    if not key:
        raise InvalidKey("must not be blank.")
    if len(key) > MAX_LENGTH:
        raise InvalidKey(f"must be at most {MAX_LENGTH} characters.")
    if not _PRINTABLE.fullmatch(key):
        raise InvalidKey("must be printable ASCII.")
    return key


def fingerprint(data: Any) -> str:
    """The same JSON document, whatever its key order or spacing, has the same fingerprint."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def recall(customer: Any, key: str) -> Answer | None:
    cutoff = timezone.now() - idempotency_retention()
    row = IdempotencyKey.objects.filter(customer=customer, key=key, created_at__gte=cutoff).first()
    if row is None:
        return None
    return Answer(row.status_code, row.response_body, row.location, row.request_fingerprint)


def remember(customer: Any, key: str, answer: Answer, order_id: str) -> None:
    """Record the answer inside the placement's transaction; `KeyTaken` if a concurrent
    request with the same key won (the caller must then roll back and replay)."""
    cutoff = timezone.now() - idempotency_retention()
    IdempotencyKey.objects.filter(customer=customer, key=key, created_at__lt=cutoff).delete()
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(
                customer=customer,
                key=key,
                request_fingerprint=answer.fingerprint,
                status_code=answer.status_code,
                response_body=answer.body,
                location=answer.location,
                order_id=order_id,
            )
    except IntegrityError as exc:
        raise KeyTaken(key) from exc
