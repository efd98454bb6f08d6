"""The errors every operation of the REST API can answer, written into the OpenAPI document.

Some refusals come from the project rather than from one view: bad or missing credentials
(401), a session-authenticated write without its CSRF token (403), an `Accept` the API cannot
answer (406), a body that is too large, chunked or not JSON (413, 411, 415, on every method
that takes a body, whether the view reads it or not; config/request_limits.py), a page past
the end (404), throttling (429), a database that cannot be reached (503,
config/server_errors.py). `document_common_errors` is a drf-spectacular post-processing hook
that adds each to the operations that can answer it, unless the view documented it
itself, so the document lists every status a client can get.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from config.request_limits import BODY_METHODS

SCHEMA_NAME = "RequestRefused"
_REF = {"$ref": f"#/components/schemas/{SCHEMA_NAME}"}


class RequestRefusedSerializer(serializers.Serializer):
    """A refusal that concerns the request as a whole."""

    detail = serializers.CharField()


COMMON: dict[int, tuple[str, str]] = {
    401: ("No or invalid credentials (`Authorization: Token <key>`)",
          "Authentication credentials were not provided."),
    403: ("Signed in by session cookie without the CSRF token",
          "CSRF Failed: CSRF token missing."),
    404: ("Page out of range", "Invalid page."),
    406: ("No acceptable media type in `Accept` (the API answers JSON)",
          "Could not satisfy the request Accept header."),
    411: ("Chunked body without a length",
          "Send the request body with a Content-Length header (not chunked)."),
    413: ("Body larger than 64 KiB", "The request body exceeds 65536 bytes."),
    415: ("Body not JSON", 'Unsupported media type "text/plain" in request.'),
    429: ("Too many requests", "Request was throttled. Expected available in 6 seconds."),
    503: ("The database cannot be reached; try again after `Retry-After` seconds",
          "The service is briefly unavailable (its database cannot be reached)."),
}


def error_response(*codes: int) -> dict[int, OpenApiResponse]:
    """The common refusals `codes`, for a view's `extend_schema(responses=...)`."""
    return {
        code: OpenApiResponse(RequestRefusedSerializer, description=COMMON[code][0],
                              examples=[OpenApiExample(COMMON[code][0],
                                                       value={"detail": COMMON[code][1]})])
        for code in codes
    }


def _response(code: int) -> dict[str, Any]:
    description, example = COMMON[code]
    return {"description": description,
            "content": {"application/json": {"schema": _REF, "example": {"detail": example}}}}


def _needs_credentials(operation: dict[str, Any]) -> bool:
    security = operation.get("security")
    return bool(security) and {} not in security


def document_common_errors(result: dict[str, Any], generator: Any, request: Any,
                           public: bool) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(SCHEMA_NAME, {
        "type": "object", "description": RequestRefusedSerializer.__doc__,
        "properties": {"detail": {"type": "string"}}, "required": ["detail"],
    })
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            wanted = [406, 503]
            if _needs_credentials(operation):
                wanted.append(401)
            if method.upper() in BODY_METHODS:
                wanted += [411, 413, 415]
                if any("cookieAuth" in scheme for scheme in operation.get("security", [])):
                    wanted.append(403)
            if any(p.get("name") == "page" for p in operation.get("parameters", [])):
                wanted.append(404)
            for code in wanted:
                responses.setdefault(str(code), _response(code))
    return result
