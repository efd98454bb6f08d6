"""Pages of every list in the API, strict about their query parameters.

DRF's page-number pagination reads `?page=` (empty) as the first page, ignores a `page_size`
that is not a number and clamps one that is too large. Here anything but what the schema
documents is refused: a `page` that is not a positive whole number (or past the end) is a 404
"Invalid page.", as DRF answers for other bad pages, and a bad `page_size` a 400.

The staff lists over every order and every saga page by cursor (`?cursor=`, the `next` and
`previous` links): a page costs one indexed range query and never counts the whole table, and
rows arriving meanwhile do not shift the pages. A cursor not issued by the API is a 404
"Invalid cursor.".
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination, CursorPagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response


def _whole_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def strict_page_size(pagination: PageNumberPagination | CursorPagination,
                     request: Request) -> int | None:
    """`?page_size=` if a whole number within the limit, the default if absent; else a 400."""
    name = pagination.page_size_query_param
    given = request.query_params.get(name or "")
    if not name or given is None:
        return pagination.page_size
    largest = pagination.max_page_size or pagination.page_size or 1
    if not (_whole_number(given) and 1 <= int(given) <= largest):
        raise ValidationError({name: [f"A whole number from 1 to {largest}, not {given[:20]!r}."]})
    return int(given)


def _bounded(parameters: list[dict[str, Any]], name: str | None,
             largest: int | None) -> list[dict[str, Any]]:
    for parameter in parameters:
        if parameter["name"] == name:
            parameter["schema"].update(minimum=1, maximum=largest)
    return parameters


class StrictCursorPagination(CursorPagination):
    """Cursor pages, newest first by `ordering` (set per list), `?page_size=` up to 100."""

    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int | None:
        return strict_page_size(self, request)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return _bounded(super().get_schema_operation_parameters(view),
                        self.page_size_query_param, self.max_page_size)


class StrictPageNumberPagination(PageNumberPagination):
    def get_page_number(self, request: Request, paginator: Paginator) -> str:
        given = request.query_params.get(self.page_query_param)
        if given is None:
            return "1"
        if not _whole_number(given):
            raise NotFound(self.invalid_page_message.format(page_number=given[:20],
                                                            message="not a page number"))
        return given

    def get_page_size(self, request: Request) -> int | None:
        return strict_page_size(self, request)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return _bounded(parameters, self.page_size_query_param,
                        self.max_page_size or self.page_size)


class PagesByRole(BasePagination):
    """Numbered pages (with `count`) for a customer's own list; cursor pages for staff, whose
    list spans the whole table. The document offers both shapes (`anyOf`)."""

    numbered: type[StrictPageNumberPagination] = StrictPageNumberPagination
    cursor: type[StrictCursorPagination] = StrictCursorPagination

    def paginate_queryset(self, queryset: Any, request: Request,
                          view: Any = None) -> list[Any] | None:
        self.pages = self.cursor() if request.user.is_staff else self.numbered()
        return self.pages.paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Response:
        return self.pages.get_paginated_response(data)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {"anyOf": [self.numbered().get_paginated_response_schema(schema),
                          self.cursor().get_paginated_response_schema(schema)]}

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: dict[str, dict[str, Any]] = {}
        for pages in (self.numbered(), self.cursor()):
            for parameter in pages.get_schema_operation_parameters(view):
                parameters.setdefault(parameter["name"], parameter)
        return list(parameters.values())
