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

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from common.sql import fetchone
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
    request with the same key won (the caller must then roll back and replay). One statement:
    a row past its retention is taken over, a live one is left alone."""
    now = timezone.now()
    taken_over = fetchone(_REMEMBER, [
        customer.pk, key, answer.fingerprint, answer.status_code,
        json.dumps(answer.body, cls=DjangoJSONEncoder), answer.location, order_id, now,
        now - idempotency_retention(),
    ])
    if taken_over is None:
        raise KeyTaken(key)


# ON CONFLICT waits for a concurrent inserter of the same key; once it commits, its row is
# live, the WHERE keeps it, and no row comes back.
_REMEMBER = """
INSERT INTO orders_idempotencykey AS k (customer_id, key, request_fingerprint, status_code,
    response_body, location, order_id, created_at)
VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s)
ON CONFLICT ON CONSTRAINT idempotency_customer_key DO UPDATE SET
    request_fingerprint = EXCLUDED.request_fingerprint, status_code = EXCLUDED.status_code,
    response_body = EXCLUDED.response_body, location = EXCLUDED.location,
    order_id = EXCLUDED.order_id, created_at = EXCLUDED.created_at
WHERE k.created_at < %s
RETURNING 1
"""
