"""Per-request context: a request id that ties log lines together until an order id takes over."""

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from outbox.context import message_context


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
        with message_context(correlation=f"request:{request_id}"):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
