"""The saga list's columns and the links between an order, its saga, its customer and its
deliveries, shared by the saga list, the saga page and the orders admin."""

from __future__ import annotations

from urllib.parse import urlencode

from django.db.models import DurationField, ExpressionWrapper, F, QuerySet
from django.db.models.functions import Coalesce, Now
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from common.admin import failure, fine, pending
from saga.models import OrderSaga

State = OrderSaga.State


def with_age(queryset: QuerySet[OrderSaga]) -> QuerySet[OrderSaga]:
    """Age in the database, so the list sorts by it: until converged, else until now."""
    return queryset.annotate(age_span=ExpressionWrapper(
        Coalesce(F("converged_at"), Now()) - F("started_at"), output_field=DurationField()))


def age_text(saga: OrderSaga) -> str:
    seconds = int(saga.age_span.total_seconds()) if getattr(saga, "age_span", None) else 0
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 60}m {seconds % 60}s"


def state_marker(saga: OrderSaga) -> SafeString:
    """Needs attention and a failed step read as failure; converged back to cancelled is
    converged, but says the order did not go through."""
    if saga.state == State.NEEDS_ATTENTION:
        return failure("needs attention")
    if saga.state == State.COMPENSATING:
        return failure("compensating (a step failed)" if saga.step_failed else "compensating")
    if saga.state == State.CONVERGED:
        return fine("converged") if saga.desired_outcome == "fulfilled" else (
            fine(f"converged: {saga.desired_outcome}"))
    return failure("running, a step failed") if saga.step_failed else pending("running")


def _link(url: str | None, text: str) -> SafeString:
    return format_html('<a href="{}">{}</a>', url, text) if url else format_html("{}", text)


def _reverse(name: str, *args: str) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:  # that admin is not installed here
        return None


def order_url(order_id: str) -> str | None:
    return _reverse("admin:orders_orderview_change", order_id)


def saga_url(order_id: str) -> str | None:
    return _reverse("admin:saga_ordersaga_change", order_id)


def customer_url(customer_id: str) -> str | None:
    return _reverse("admin:auth_user_change", customer_id) if customer_id else None


def deliveries_url(order_id: str) -> str | None:
    changelist = _reverse("admin:outbox_delivery_changelist")
    return f"{changelist}?{urlencode({'q': order_id})}" if changelist else None


def events_url(order_id: str) -> str | None:
    changelist = _reverse("admin:outbox_event_changelist")
    return f"{changelist}?{urlencode({'q': order_id})}" if changelist else None


def order_links(order_id: str, customer_id: str, *, this: str) -> SafeString:
    """order | saga | customer | deliveries | events, without a link to the page one is on."""
    wanted = [("order", order_url(order_id)), ("saga", saga_url(order_id)),
              ("customer", customer_url(customer_id)), ("deliveries", deliveries_url(order_id)),
              ("events", events_url(order_id))]
    return format_html_join(" | ", "{}", ((_link(url, name),) for name, url in wanted
                                          if name != this and url))
