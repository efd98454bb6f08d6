"""What an operator inspects: the catalogue with its stock, and the reservations (holds).

Read-only: stock moves only through the services (events plus guarded updates), never by
editing a row here.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from common.admin import ReadOnlyAdmin, failure, fine
from inventory.models import Product, Reservation


@admin.register(Product)
class ProductAdmin(ReadOnlyAdmin):
    list_display = ("sku", "name", "price", "on_hand", "held", "available", "added_at")
    search_fields = ("sku", "name")
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[Product]:
        return super().get_queryset(request).select_related("stock").annotate(
            available_units=F("stock__on_hand") - F("stock__held")
        )

    @admin.display(description="on hand", ordering="stock__on_hand")
    def on_hand(self, obj: Product) -> int:
        return obj.stock.on_hand

    @admin.display(description="held", ordering="stock__held")
    def held(self, obj: Product) -> int:
        return obj.stock.held

    @admin.display(description="available", ordering="available_units")
    def available(self, obj: Product) -> int:
        return obj.available_units  # type: ignore[attr-defined]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ("order_id", "status", "summary", "expires_at", "expired", "reason",
                    "updated_at")
    list_filter = ("status",)
    search_fields = ("=order_id",)
    list_per_page = 50

    @admin.display(description="lines")
    def summary(self, obj: Reservation) -> str:
        return ", ".join(f"{line['quantity']} x {line['sku']}" for line in obj.lines)

    @admin.display(description="hold")
    def expired(self, obj: Reservation) -> str:
        """An expired hold is a failure to show as one (a green tick would read as fine)."""
        if obj.status != Reservation.Status.HELD or obj.expires_at is None:
            return "-"
        return failure("expired") if obj.expires_at <= timezone.now() else fine("held")
