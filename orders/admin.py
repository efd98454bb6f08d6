"""What an operator inspects of the orders context (read models; changes go through events)."""


from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from common.admin import ReadOnlyAdmin
from orders import services
from orders.domain import OrderAlreadyConfirmed
from orders.models import CatalogueEntry, ConfirmationEmailDispatch, IdempotencyKey, OrderView


@admin.register(OrderView)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["id", "status", "reason", "total", "customer", "created_at", "links"]
    list_filter = ["status"]
    search_fields = ["=id", "^id", "customer__username"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"
    actions = ["cancel_orders"]

    @admin.display(description="links")
    def links(self, order: OrderView) -> SafeString:
        """The order's saga, its customer and its deliveries, by admin URL name only (the
        orders context imports nothing of the saga)."""
        deliveries = reverse("admin:outbox_delivery_changelist") + "?" + urlencode(
            {"q": order.id})
        wanted = [("saga", reverse("admin:saga_ordersaga_change", args=[order.id])),
                  ("customer", reverse("admin:auth_user_change", args=[order.customer_id])),
                  ("deliveries", deliveries)]
        return format_html_join(" | ", '<a href="{}">{}</a>',
                                ((url, name) for name, url in wanted))

    @admin.action(description="Cancel the selected pending orders (runs the compensations)",
                  permissions=["cancel"])
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[OrderView]) -> None:
        cancelled = refused = 0
        for order in queryset:
            try:
                outcome = services.cancel_order(
                    order.id, reason="cancelled by operator",
                    requested_by=f"operator:{request.user.get_username()}",
                )
            except OrderAlreadyConfirmed:
                refused += 1
                continue
            if outcome is services.CancelOutcome.CANCELLED:
                cancelled += 1
                self.log_change(request, order, "cancelled the order (compensations follow)")
        self.message_user(request, f"{cancelled} order(s) cancelled.")
        if refused:
            self.message_user(request, f"{refused} confirmed order(s) cannot be cancelled.",
                              level=messages.WARNING)

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.cancel_order")


@admin.register(CatalogueEntry)
class CatalogueEntryAdmin(ReadOnlyAdmin):
    list_display = ["sku", "name", "price"]
    search_fields = ["sku", "name"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ["key", "customer", "order_id", "status_code", "created_at"]
    search_fields = ["=key", "=order_id"]
    list_select_related = ["customer"]


@admin.register(ConfirmationEmailDispatch)
class ConfirmationEmailDispatchAdmin(ReadOnlyAdmin):
    """Whether each confirmation e-mail went out: "unknown" ones (the send failed after the
    server may have accepted the mail) are never re-sent by the system; an operator decides."""

    list_display = ["order_id", "outcome", "handed_over_at", "failure"]
    list_filter = ["outcome"]
    search_fields = ["=order_id"]
    date_hierarchy = "handed_over_at"
