"""Per-request context: a request id that ties log lines together until an order id takes over.

The request id comes from the caller's (or the proxy's) `X-Request-ID` when it is a sane token,
else a new one; it is echoed in the response. This middleware also writes the access log line,
inside the request's context, so that line carries the id too (gunicorn's own access log is off).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.log import log_response

from common.message_context import message_context
from outbox.models import CORRELATION_ID_MAX_LENGTH

log = logging.getLogger("http.access")

# Anything else (too long, spaces, control characters) is replaced: it ends up in log lines.
REQUEST_PREFIX = "request:"
# The correlation id is REQUEST_PREFIX + the request id, and must fit its column.
REQUEST_ID_MAX_LENGTH = CORRELATION_ID_MAX_LENGTH - len(REQUEST_PREFIX)
_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{REQUEST_ID_MAX_LENGTH}}}")
# Probes every few seconds would drown the log.
_QUIET_PATHS = frozenset({"/healthz", "/metrics"})


def request_id_of(request: HttpRequest) -> str:
    given = request.headers.get("X-Request-ID", "")
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_of(request)
        started = time.perf_counter()
        with message_context(correlation=f"{REQUEST_PREFIX}{request_id}"):
            response = self.get_response(request)
            if response.status_code >= 400:
                # Django logs an error response after the middleware chain has returned, outside
                # this context. The same call made here marks it logged, so that line carries
                # the request id and Django does not write it a second time.
                log_response("%s: %s", response.reason_phrase, request.path, response=response,
                             request=request)
            log.log(
                logging.DEBUG if request.path in _QUIET_PATHS else logging.INFO,
                "%s %s %s",
                request.method,
                request.get_full_path(),
                response.status_code,
                extra={
                    "request_id": request_id,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        response["X-Request-ID"] = request_id
        return response
