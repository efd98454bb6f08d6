"""BASELINE ONLY, never used by the system: the order saga as many teams first write it. A plain
Django view inserts the order and fires a Celery chain of the four steps (reserve stock,
charge, book shipment, confirm), each a write in a plain table of its own
(lab.bench.flow_sql). No event store, no outbox, no inbox, no idempotency record, no
reconciler: a message lost between the insert and the broker, or a worker killed between a
step's commit and its ack, loses or repeats a step, and nothing notices.

It runs under lab.bench.naive_settings (its own URLconf and task imports), in its own
gunicorn and Celery workers, started by lab.bench.naive_run for `manage.py bench`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from celery import chain, shared_task
from django.db import connection, transaction
from django.urls import path
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lab.bench import flow_sql


def _execute(sql: str, params: dict[str, Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@shared_task(name="bench.naive.reserve_stock")
def reserve_stock(order_id: str) -> str:
    with transaction.atomic():
        flow_sql.reserve_stock(_execute, order_id)
    return order_id


@shared_task(name="bench.naive.charge_payment")
def charge_payment(order_id: str) -> str:
    with transaction.atomic():
        flow_sql.charge_payment(_execute, order_id)
    return order_id


@shared_task(name="bench.naive.book_shipment")
def book_shipment(order_id: str) -> str:
    with transaction.atomic():
        flow_sql.book_shipment(_execute, order_id)
    return order_id


@shared_task(name="bench.naive.confirm_order")
def confirm_order(order_id: str) -> str:
    with transaction.atomic():
        flow_sql.confirm_order(_execute, order_id)
    return order_id


class PlaceNaiveOrder(APIView):
    """POST /api/orders/ with the same body and token as the real API; 202 with the id."""

    def post(self, request: Request) -> Response:
        lines = request.data.get("lines") if isinstance(request.data, dict) else None
        if not isinstance(lines, list) or not lines:
            return Response({"lines": ["At least one line is required."]},
                            status=status.HTTP_400_BAD_REQUEST)
        order_id = str(uuid.uuid4())
        _execute(flow_sql.PLACE, {"id": order_id, "run": "naive", "lines": json.dumps(lines)})
        chain(reserve_stock.si(order_id), charge_payment.si(order_id),
              book_shipment.si(order_id), confirm_order.si(order_id)).apply_async()
        return Response({"id": order_id, "status": "pending"}, status=status.HTTP_202_ACCEPTED)


def healthz(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse("ok")


urlpatterns = [
    path("api/orders/", PlaceNaiveOrder.as_view()),
    path("healthz", healthz),
]
