"""A JSON parser that enforces the request size limit itself, with a clean 413.

DRF's own JSONParser reads `request.body`, where Django raises `RequestDataTooBig` (a 400
page, not JSON) and a deeply nested document can raise `RecursionError` (a 500). This one
reads at most the limit and turns every malformed document into a 400 with a message.
"""

from __future__ import annotations

import json
from typing import IO, Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.json import strict_constant


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body exceeds {limit} bytes.")


class LengthRequired(APIException):
    """A chunked body without a length never reaches the parser under WSGI (it would read as
    empty); say so rather than report the fields as missing."""

    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_detail = "Send the request body with a Content-Length header (not chunked)."
    default_code = "length_required"


def require_length(meta: dict[str, Any]) -> None:
    chunked = "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and meta.get("CONTENT_LENGTH") in (None, "", "0"):
        raise LengthRequired()


def body_limit() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 64 * 1024


class BoundedJSONParser(BaseParser):
    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(
        self, stream: IO[bytes] | None, media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        limit = body_limit()
        request = (parser_context or {}).get("request")
        if request is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > limit:
                raise RequestTooLarge(limit)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(limit)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(raw.decode(encoding), parse_constant=strict_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
