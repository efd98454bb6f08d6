"""Server errors answered in JSON with a `code`, never Django's HTML page.

A database that cannot be reached (refused, restarting, a connection that died) is not a bug
of ours: it is a 503 with `Retry-After`, so clients and proxies wait and try again. Anything
else unexpected is a 500 `{"detail", "code": "server_error"}`, with its traceback in the log.

Three places see an exception, and each answers alike: DRF's exception handler (API views,
config/request_limits.py calls `answer_for`), `ServerErrorMiddleware.process_exception` (any
other view), and `handler500` (an exception outside a view, e.g. in a middleware, with DEBUG
off; Django calls it while the exception is being handled, so `sys.exception()` is it).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

from common.db_conflicts import ConflictPersisted, is_conflict

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# What Django's own response_for_exception turns into a 4xx.
CLIENT_ERRORS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation, MultiPartParserError)
DATABASE_UNAVAILABLE = "The service is briefly unavailable (its database cannot be reached)."
SERVER_ERROR = "A server error occurred."
CONFLICT_RETRY_AFTER_SECONDS = 1
CONFLICT = "The request lost a race for the same data with another one; retry it."


def database_unreachable(exc: BaseException | None) -> bool:
    """A connection-level failure: OperationalError covers refused and dropped connections (and
    a deadlock that reached this far: also worth a retry); InterfaceError a closed one."""
    return isinstance(exc, OperationalError | InterfaceError)


def answer_for(exc: BaseException | None) -> tuple[int, dict[str, str], dict[str, str]]:
    """(status, body, headers) for an exception nothing else answered; logs it."""
    if isinstance(exc, ConflictPersisted) or is_conflict(exc):
        # A lock race the view's retries did not win (or a view without them): not a bug.
        log.warning("concurrency conflict: %s", str(exc).strip()[:200])
        return (503, {"detail": CONFLICT, "code": "concurrency_conflict"},
                {"Retry-After": str(CONFLICT_RETRY_AFTER_SECONDS)})
    if database_unreachable(exc):
        log.warning("database unreachable: %s: %s", type(exc).__name__, str(exc).strip()[:200])
        return (503, {"detail": DATABASE_UNAVAILABLE, "code": "database_unavailable"},
                {"Retry-After": str(RETRY_AFTER_SECONDS)})
    log.error("unhandled %s", type(exc).__name__ if exc else "error",
              exc_info=(type(exc), exc, exc.__traceback__) if exc else None)
    return 500, {"detail": SERVER_ERROR, "code": "server_error"}, {}


def json_answer_for(exc: BaseException | None) -> JsonResponse:
    status, body, headers = answer_for(exc)
    return JsonResponse(body, status=status, headers=headers)


def handler500(request: HttpRequest) -> HttpResponse:
    return json_answer_for(sys.exception())


class ServerErrorMiddleware:
    """Answers an exception escaping any view in JSON, whatever DEBUG says."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest,
                          exception: Exception) -> HttpResponse | None:
        if isinstance(exception, CLIENT_ERRORS):
            return None  # Django answers these 4xx itself
        return json_answer_for(exception)
