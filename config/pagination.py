"""Pages of every list in the API, strict about their query parameters.

DRF's page-number pagination reads `?page=` (empty) as the first page, ignores a `page_size`
that is not a number and clamps one that is too large. Here anything but what the schema
documents is refused: a `page` that is not a positive whole number (or past the end) is a 404
"Invalid page.", as DRF answers for other bad pages, and a bad `page_size` a 400.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


def _whole_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


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
        given = request.query_params.get(self.page_size_query_param or "")
        if not self.page_size_query_param or given is None:
            return self.page_size
        largest = self.max_page_size or self.page_size or 1
        if not (_whole_number(given) and 1 <= int(given) <= largest):
            raise ValidationError({self.page_size_query_param: [
                f"A whole number from 1 to {largest}, not {given[:20]!r}."]})
        return int(given)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size
                                           or self.page_size)
        return parameters
