"""What an operator inspects: shipments, and the simulated carrier's own ledger."""

from __future__ import annotations

from django.contrib import admin

from common.admin import ProviderBooksAdmin, ReadOnlyAdmin
from shipping.models import CarrierLedgerEntry, Shipment


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
class CarrierLedgerEntryAdmin(ProviderBooksAdmin):
    list_display = ("shipment_id", "order_id", "status", "tracking_code", "booked_at",
                    "cancelled_at")
    list_filter = ("status",)
    search_fields = ("=order_id", "=shipment_id", "=idempotency_key")
    list_per_page = 50
