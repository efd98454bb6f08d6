"""What the REST API accepts as a request body, for every endpoint: JSON only (anything else is a
415), at most `DATA_UPLOAD_MAX_MEMORY_SIZE` bytes (64 KiB; a 413), nested at most
`MAX_JSON_DEPTH` levels, and sent with a length (a chunked body is a 411). Each refusal is a
JSON `{"code", "detail"}` with a clear message, never a 500 or an HTML page.

DRF's own JSONParser reads `request.body`, where Django raises `RequestDataTooBig` (a 400
page, not JSON), and a deeply nested document can raise `RecursionError` (a 500). The parser
here reads at most the limit and turns every malformed document into a 400 with a message.
`RequestLimitsMiddleware` refuses an oversized, chunked or non-JSON body before any view runs,
and config/api_errors.py answers Django's own size errors in JSON should anything read the
body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, UnsupportedMediaType
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.json import strict_constant

# Far deeper than any document of the API (an order is 3 levels), far shallower than the
# recursion limit.
MAX_JSON_DEPTH = 16
LENGTH_REQUIRED = "Send the request body with a Content-Length header (not chunked)."
# The methods whose body a view may read; the body of any other is ignored.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TOO_DEEP = f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."


def body_limit() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 64 * 1024


def too_large_message(limit: int) -> str:
    return f"The request body exceeds {limit} bytes."


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(too_large_message(limit))


def _chunked_without_length(meta: dict[str, Any]) -> bool:
    chunked = "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
    return chunked and meta.get("CONTENT_LENGTH") in (None, "", "0")


def _declared_length(meta: dict[str, Any]) -> int:
    try:
        return int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def depth_of(document: Any) -> int:
    """How many containers deep `document` nests (a scalar is 0), without recursion."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


class BoundedJSONParser(BaseParser):
    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(
        self, stream: IO[bytes] | None, media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        limit = body_limit()
        request = (parser_context or {}).get("request")
        if request is not None and _declared_length(request.META) > limit:
            raise RequestTooLarge(limit)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(limit)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            document = json.loads(raw.decode(encoding), parse_constant=strict_constant)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        except (ValueError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if depth_of(document) > MAX_JSON_DEPTH:
            raise ParseError(TOO_DEEP)
        return document


def unsupported_message(content_type: str) -> str:
    return f'Unsupported media type "{content_type}" in request.'  # DRF's words


class RequestLimitsMiddleware:
    """Refuses, before any view runs, an API request whose declared body is over the limit
    (413), that is chunked without a length (411), or whose body is not JSON (415), so every
    endpoint that takes a body answers alike, even one that reads none (cancel)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/") and request.method in BODY_METHODS:
            refusal = self.refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    @staticmethod
    def refusal(request: HttpRequest) -> JsonResponse | None:
        limit, length = body_limit(), _declared_length(request.META)
        if length > limit:
            return JsonResponse({"code": RequestTooLarge.default_code,
                                 "detail": too_large_message(limit)},
                                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        if _chunked_without_length(request.META):
            return JsonResponse({"code": "length_required", "detail": LENGTH_REQUIRED},
                                status=status.HTTP_411_LENGTH_REQUIRED)
        if length and request.content_type != BoundedJSONParser.media_type:
            content_type = request.META.get("CONTENT_TYPE", "")
            return JsonResponse({"code": UnsupportedMediaType.default_code,
                                 "detail": unsupported_message(content_type)},
                                status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE)
        return None
