"""What an operator inspects: shipments, and the simulated carrier's own ledger."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from shipping.carrier import PROVIDERS_DB
from shipping.models import CarrierLedgerEntry, Shipment


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows here follow from events (or are the carrier's): they are read, never edited."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdmin):
    list_display = ("order_id", "status", "shipment_id", "tracking_code", "postal_code", "reason",
                    "updated_at")
    list_filter = ("status",)
    search_fields = ("=order_id", "=shipment_id", "=tracking_code")
    list_per_page = 50

    @admin.display(description="postal code")
    def postal_code(self, obj: Shipment) -> str:
        return (obj.address or {}).get("postal_code", "")


@admin.register(CarrierLedgerEntry)
class CarrierLedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("shipment_id", "order_id", "status", "tracking_code", "booked_at",
                    "cancelled_at")
    list_filter = ("status",)
    search_fields = ("=order_id", "=shipment_id", "=idempotency_key")
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[CarrierLedgerEntry]:
        return super().get_queryset(request).using(PROVIDERS_DB)
