"""Liveness and readiness.

`/livez` answers 200 while the process can serve at all (it touches neither the database nor
the broker): restart the process only when this fails. `/healthz` is readiness: 200 only when
the database and the broker both answer, else a 503 naming what is down.
"""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET


def _database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return None
    except Exception as exc:  # any failure means not ready; say which
        return f"{type(exc).__name__}: {exc}".strip()[:200]


def _broker() -> str | None:
    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1,
                                      socket_connect_timeout=1)
        client.ping()
        client.close()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()[:200]


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = (("database", _database()), ("broker", _broker()))
    failures = {name: error for name, error in checks if error}
    if failures:
        return JsonResponse({"status": "unavailable", "failed": failures}, status=503)
    return JsonResponse({"status": "ok"})


@require_GET
def livez(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
