"""The one shape of every error answer of the REST API, and the errors written into the OpenAPI
document.

Every error body is a JSON object with a stable machine-readable `code` (DRF's codes:
`invalid`, `parse_error`, `not_authenticated`, `authentication_failed`, `permission_denied`,
`not_found`, `method_not_allowed`, `not_acceptable`, `unsupported_media_type`, `throttled`; the
project's: `request_too_large`, `length_required`, `conflict`, `order_confirmed`,
`idempotency_key_in_progress`, `idempotency_key_reused`, `product_exists`, the operator's
(saga/api.py: `converged`, `past_the_pivot`, `does_not_apply`, `stale_proposal`,
`not_proposed`, `self_approval`),
`database_unavailable`, `server_error`) and a human `detail`. An invalid request (`invalid`,
a 400) keeps its field-level messages beside them, `{field: [message, ...]}` as DRF writes
them (nested for nested fields), so a client sees which field is wrong and why; no field of the
API is named `code` or `detail`.

The errors every operation of the REST API can answer, written into the OpenAPI document.

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

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers, status
from rest_framework.exceptions import (
    APIException,
    ErrorDetail,
    NotFound,
    ParseError,
    PermissionDenied,
    ValidationError,
)
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from config import server_errors
from config.request_limits import BODY_METHODS, RequestTooLarge, body_limit

SCHEMA_NAME = "RequestRefused"
_REF = {"$ref": f"#/components/schemas/{SCHEMA_NAME}"}


INVALID_DETAIL = "Invalid input: see the messages per field."


class Conflict(APIException):
    """A 409: the request is well-formed but the resource's state refuses it. `detail` may be a
    message or `{field: [message]}`; `code` names the refusal."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the resource's state."

    def __init__(self, detail: Any = None, code: str | None = None) -> None:
        super().__init__(detail, code)
        self.code = code or self.default_code


class Unprocessable(Conflict):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unprocessable"
    default_detail = "The request cannot be processed."


def _first_message(errors: Any) -> str:
    while isinstance(errors, list | dict) and errors:
        errors = errors[0] if isinstance(errors, list) else next(iter(errors.values()))
    return str(errors) if errors else INVALID_DETAIL


def error_body(exc: APIException) -> dict[str, Any]:
    """`{"code", "detail", **field errors}` for a DRF exception."""
    detail = exc.detail
    if isinstance(detail, ErrorDetail | str):
        return {"code": getattr(detail, "code", None) or exc.default_code, "detail": str(detail)}
    code = getattr(exc, "code", None) or exc.default_code
    if isinstance(detail, list):  # ValidationError("message"): not tied to a field
        return {"code": code, "detail": _first_message(detail), "non_field_errors": detail}
    summary = INVALID_DETAIL if isinstance(exc, ValidationError) else _first_message(detail)
    return {"code": code, "detail": summary, **detail}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler answering in the one error shape, plus Django's own request-size errors
    answered as JSON, and anything DRF leaves unanswered (an unreachable database, a bug)
    answered by config/server_errors.py."""
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge(body_limit())
    elif isinstance(exc, TooManyFieldsSent):
        exc = ParseError(str(exc) or "Too many fields.")
    elif isinstance(exc, Http404):  # as DRF's handler does, here so the body gets its code
        exc = NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = PermissionDenied(*exc.args)
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, APIException):
        status_code, body, headers = server_errors.answer_for(exc)
        set_rollback()
        return Response(body, status=status_code, headers=headers)
    response.data = error_body(exc)
    return response


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    """An /api/ path no route matches (e.g. `/api/sagas/x/corrections/not-a-number/approve/`)
    answers in the API's shape; any other path gets Django's page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": "No such endpoint."}, status=404)
    return page_not_found(request, exception)


class RequestRefusedSerializer(serializers.Serializer):
    """A refusal: a stable machine-readable `code` and a human `detail`; an invalid request
    (`code` `invalid`) adds its messages per field beside them."""

    code = serializers.CharField()
    detail = serializers.CharField()


COMMON: dict[int, tuple[str, str, str]] = {
    401: ("No or invalid credentials (`Authorization: Token <key>`)", "not_authenticated",
          "Authentication credentials were not provided."),
    403: ("Signed in by session cookie without the CSRF token", "permission_denied",
          "CSRF Failed: CSRF token missing."),
    404: ("Page or cursor out of range", "not_found", "Invalid page."),
    406: ("No acceptable media type in `Accept` (the API answers JSON)", "not_acceptable",
          "Could not satisfy the request Accept header."),
    411: ("Chunked body without a length", "length_required",
          "Send the request body with a Content-Length header (not chunked)."),
    413: ("Body larger than 64 KiB", "request_too_large", "The request body exceeds 65536 bytes."),
    415: ("Body not JSON", "unsupported_media_type",
          'Unsupported media type "text/plain" in request.'),
    429: ("Too many requests", "throttled",
          "Request was throttled. Expected available in 6 seconds."),
    503: ("The database cannot be reached; try again after `Retry-After` seconds",
          "database_unavailable",
          "The service is briefly unavailable (its database cannot be reached)."),
}


def refusal(description: str, code: str, detail: str) -> OpenApiResponse:
    """A documented refusal `{"code", "detail"}`, for a view's `extend_schema(responses=...)`."""
    return OpenApiResponse(RequestRefusedSerializer, description=description,
                           examples=[OpenApiExample(description,
                                                    value={"code": code, "detail": detail})])


def field_errors(description: str, example: dict[str, Any]) -> OpenApiResponse:
    """A documented 400 `invalid` with messages per field (`example` holds the fields)."""
    return OpenApiResponse(
        RequestRefusedSerializer, description=description,
        examples=[OpenApiExample(description, value={
            "code": "invalid", "detail": INVALID_DETAIL, **example})],
    )


def error_response(*codes: int) -> dict[int, OpenApiResponse]:
    """The common refusals `codes`, for a view's `extend_schema(responses=...)`."""
    return {code: refusal(*COMMON[code]) for code in codes}


def _response(code: int) -> dict[str, Any]:
    description, error_code, example = COMMON[code]
    return {"description": description,
            "content": {"application/json": {
                "schema": _REF, "example": {"code": error_code, "detail": example}}}}


def _needs_credentials(operation: dict[str, Any]) -> bool:
    security = operation.get("security")
    return bool(security) and {} not in security


def document_common_errors(result: dict[str, Any], generator: Any, request: Any,
                           public: bool) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas[SCHEMA_NAME] = {  # over the serializer's: field errors sit beside code, detail
        "type": "object", "description": RequestRefusedSerializer.__doc__,
        "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
        "required": ["code", "detail"],
        # An invalid request (`invalid`) carries its messages per field beside them.
        "additionalProperties": True,
    }
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
            if any(p.get("name") in ("page", "cursor") for p in operation.get("parameters", [])):
                wanted.append(404)
            for code in wanted:
                responses.setdefault(str(code), _response(code))
    return result
