"""What an operator inspects: each order's payment (status and money), and the simulated
provider's books (ledger and request log), read through the provider's own connection."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from common.admin import ProviderBooksAdmin, ReadOnlyAdmin
from payments.domain import PaymentStatus
from payments.models import GatewayCall, GatewayLedgerEntry, PaymentSnapshot


class PaymentStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(s.value, s.value.replace("_", " ")) for s in PaymentStatus]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(state__status=self.value())
        return queryset


@admin.register(PaymentSnapshot)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("stream_id", "status", "amount", "charged", "refunded", "net", "charge_id",
                    "version", "updated_at")
    list_filter = (PaymentStatusFilter,)
    search_fields = ("=stream_id",)
    readonly_fields = ("stream_id", "version", "state", "updated_at")
    ordering = ("-updated_at",)

    @admin.display(description="status")
    def status(self, obj: PaymentSnapshot) -> str:
        return obj.state.get("status", "")

    @admin.display(description="amount")
    def amount(self, obj: PaymentSnapshot) -> str:
        return obj.state.get("amount") or "-"

    @admin.display(description="charged")
    def charged(self, obj: PaymentSnapshot) -> str:
        return obj.state.get("charged", "")

    @admin.display(description="refunded")
    def refunded(self, obj: PaymentSnapshot) -> str:
        return obj.state.get("refunded", "")

    @admin.display(description="net")
    def net(self, obj: PaymentSnapshot) -> str:
        return obj.state.get("net", "")

    @admin.display(description="charge id")
    def charge_id(self, obj: PaymentSnapshot) -> str:
        return obj.state.get("charge_id", "")


@admin.register(GatewayLedgerEntry)
class GatewayLedgerAdmin(ProviderBooksAdmin):
    list_display = ("entry_id", "kind", "order_id", "amount", "idempotency_key",
                    "refunded_charge_id", "duplicate_of", "token", "created_at")
    list_filter = ("kind",)
    search_fields = ("=order_id", "=idempotency_key", "=entry_id")
    ordering = ("-id",)


@admin.register(GatewayCall)
class GatewayCallAdmin(ProviderBooksAdmin):
    list_display = ("id", "operation", "idempotency_key", "outcome", "detail", "created_at")
    list_filter = ("operation", "outcome")
    search_fields = ("=idempotency_key",)
    ordering = ("-id",)
