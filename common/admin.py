"""The admin base every context uses: rows follow from events (or are a provider's books), so an
operator reads them and never adds, edits or deletes one by hand."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from common.providers import PROVIDERS_DB


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ProviderBooksAdmin(ReadOnlyAdmin):
    """A simulated provider's books, read through the providers' own connection."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).using(PROVIDERS_DB)


def failure(label: str) -> SafeString:
    """A column value that means something went wrong: red, with a cross, never a green tick."""
    return format_html('<span style="color:#a61b0f;font-weight:bold">&#10006; {}</span>', label)


def fine(label: str) -> SafeString:
    return format_html('<span style="color:#1e7d32">&#10004; {}</span>', label)


def pending(label: str) -> SafeString:
    return format_html('<span style="color:#555">&#8230; {}</span>', label)
