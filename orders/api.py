"""The order REST API: place, list, read and cancel orders (DESIGN.md, "API contract")."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.urls import reverse
from django_filters import rest_framework as filters
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle

from common.db_conflicts import retry_on_conflict
from config.api_errors import Conflict, Unprocessable, error_response, field_errors, refusal
from config.filtering import StrictFilterSet
from config.pagination import PagesByRole, StrictCursorPagination, StrictPageNumberPagination
from orders import idempotency, services
from orders.domain import OrderAlreadyConfirmed, OrderRuleBroken, OrderStatus
from orders.events import ShippingAddress
from orders.models import OrderView
from orders.serializers import (
    OrderDetailSerializer,
    OrderSerializer,
    PlaceOrderSerializer,
)

CANCEL_PERMISSION = "orders.cancel_order"
# Every customer's orders (and addresses), not only the caller's: the "customer data" job.
VIEW_ALL_PERMISSION = "orders.view_all_orders"


class PlaceOrderThrottle(UserRateThrottle):
    """Placement per user, at settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["place_order"]."""

    scope = "place_order"

    def get_rate(self) -> str | None:
        # Read at request time (not at import), so a changed setting takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class OrderPagination(StrictPageNumberPagination):
    """A customer's own orders: few, so numbered pages with a count."""

    page_size_query_param = "page_size"
    max_page_size = 100


class StaffOrderPagination(StrictCursorPagination):
    """Staff list every order: cursor pages, which never count the whole table."""

    ordering = ("-created_at", "-id")


class OrderPages(PagesByRole):
    numbered = OrderPagination
    cursor = StaffOrderPagination


class OrderFilter(StrictFilterSet):
    status = filters.ChoiceFilter(
        choices=OrderView.Status.choices,
        error_messages={"invalid_choice": "%(value)r is not a status; use "
                        + ", ".join(s.value for s in OrderStatus) + "."},
        help_text="Only orders in this status (any other value is a 400).",
    )

    class Meta:
        model = OrderView
        fields = ["status"]


FIELD_ERRORS = field_errors(
    "Invalid input: messages per field (nothing was written).",
    {"lines": [{"sku": ["Unknown sku 'SKU-404'."]}, {"quantity": ["Must be a JSON integer."]}],
     "shipping_address": {"country": ["'XX' is not an ISO 3166-1 alpha-2 code."]}},
)
UNAUTHENTICATED = refusal("Not authenticated", "not_authenticated",
                          "Authentication credentials were not provided.")
NOT_FOUND = refusal("No such order (or another customer's)", "not_found", "No such order.")
KEY_IN_PROGRESS = "A request with this Idempotency-Key is in progress; retry."
KEY_REUSED = "This Idempotency-Key was used with a different request body."
ORDER_CONFIRMED = "The order is confirmed and can no longer be cancelled."
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="Optional, per customer, remembered for at least 24 hours. Repeating it with "
    "the same body replays the first answer (status and body) and creates nothing; with "
    "another body the request is refused with 422. A refused (4xx) request is not remembered.",
)
LOCATION = OpenApiParameter(
    "Location", str, OpenApiParameter.HEADER, response=[202],
    description="The URL of the new order.",
)


@extend_schema_view(
    list=extend_schema(
        summary="The caller's orders (staff: every order), newest first",
        description="A customer's own orders come in numbered pages (`?page=`, with `count`); "
        "staff, who see every order, get cursor pages (`?cursor=` from the `next` and "
        "`previous` links, no `count`).",
        responses={200: OrderSerializer(many=True),
                   400: field_errors("A filter or page size is invalid (the field says which).",
                                     {"status": ["'shipped' is not a status; use pending, "
                                                 "confirmed, cancelled."]}),
                   401: UNAUTHENTICATED,
                   404: refusal("Page or cursor out of range", "not_found", "Invalid page.")},
    ),
    retrieve=extend_schema(
        summary="One order: status, reason, lines, total, timestamps and its saga",
        responses={200: OrderDetailSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    ),
)
class OrderViewSet(viewsets.GenericViewSet):
    serializer_class = OrderSerializer
    pagination_class = OrderPages
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = OrderFilter
    lookup_value_regex = "[^/]+"  # malformed ids reach the view and get a JSON 404

    def get_queryset(self) -> Any:
        orders = OrderView.objects.select_related("customer")
        user = self.request.user
        if user.has_perm(VIEW_ALL_PERMISSION):
            return orders
        return orders.filter(customer_id=user.pk)

    def get_throttles(self) -> list[Any]:
        if self.action == "create":
            return [PlaceOrderThrottle()]
        return super().get_throttles()

    def get_object(self) -> OrderView:
        try:
            order_id = str(uuid.UUID(self.kwargs[self.lookup_field]))
        except ValueError:
            raise NotFound("No such order.") from None
        order = self.get_queryset().filter(pk=order_id).first()
        if order is None:
            raise NotFound("No such order.")
        return order

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(OrderSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(OrderDetailSerializer(self.get_object()).data)

    @extend_schema(
        summary="Place an order",
        description="Prices come from the catalogue at the time of placement. Lines naming the "
        "same sku are merged (quantities added; the sum must stay within 1..1000). The saga "
        "then runs asynchronously: follow it at the Location (the order there carries its "
        "saga block).",
        request=PlaceOrderSerializer,
        parameters=[IDEMPOTENCY_KEY, LOCATION],
        responses={
            202: OrderSerializer,
            400: FIELD_ERRORS,
            401: UNAUTHENTICATED,
            **error_response(411, 413, 415, 429),
            409: refusal("Idempotency-Key raced and its first answer is gone",
                         "idempotency_key_in_progress", KEY_IN_PROGRESS),
            422: refusal("Idempotency-Key reused with another body", "idempotency_key_reused",
                         KEY_REUSED),
        },
    )
    @retry_on_conflict()
    def create(self, request: Request) -> Response:
        try:
            key = idempotency.key_from(request.headers)
        except idempotency.InvalidKey as exc:
            raise ValidationError({idempotency.HEADER: [str(exc)]}) from None
        # Parse first: 413, 415 and malformed JSON are answered here (config/request_limits.py;
        # a chunked body without a length is refused before the view, 411).
        data = request.data
        fingerprint = idempotency.fingerprint(data)
        if key is not None and (answer := idempotency.recall(request.user, key)) is not None:
            return self._replay(answer, fingerprint)
        placement = PlaceOrderSerializer(data=data)
        placement.is_valid(raise_exception=True)
        try:
            answer = self._place(request, placement.validated_data, key, fingerprint)
        except idempotency.KeyTaken:
            answer = idempotency.recall(request.user, key or "")
            if answer is None:  # the winner's answer vanished (pruned): let the client retry
                raise Conflict(KEY_IN_PROGRESS, code="idempotency_key_in_progress") from None
            return self._replay(answer, fingerprint)
        return Response(answer.body, status=answer.status_code,
                        headers={"Location": answer.location})

    def _place(self, request: Request, placement: dict[str, Any], key: str | None,
               fingerprint: str) -> idempotency.Answer:
        user = request.user
        try:
            with transaction.atomic():
                order_id = services.place_order(
                    customer_id=str(user.pk),
                    lines=placement["lines"],
                    shipping_address=ShippingAddress(**placement["shipping_address"]),
                    payment_token=placement.get("payment", {}).get(
                        "token", services.DEFAULT_PAYMENT_TOKEN),
                    actor=f"user:{user.get_username()}",
                )
                # The order as placed; its saga has only just begun (the Location shows it).
                body = OrderSerializer(self.get_queryset().get(pk=order_id)).data
                location = request.build_absolute_uri(reverse("order-detail", args=[order_id]))
                answer = idempotency.Answer(status.HTTP_202_ACCEPTED, body, location, fingerprint)
                if key is not None:
                    idempotency.remember(user, key, answer, order_id)
        except OrderRuleBroken as exc:  # the serializer checks the same rules first
            raise ValidationError({"lines": [str(exc)]}) from None
        except services.UnknownProducts as exc:  # a product vanished since validation
            unknown = [f"Unknown sku {sku!r}." for sku in exc.skus]
            raise ValidationError({"lines": unknown}) from None
        return answer

    def _replay(self, answer: idempotency.Answer, fingerprint: str) -> Response:
        if answer.fingerprint != fingerprint:
            raise Unprocessable(KEY_REUSED, code="idempotency_key_reused")
        return Response(answer.body, status=answer.status_code,
                        headers={"Location": answer.location, "Idempotent-Replayed": "true"})

    @extend_schema(
        summary="Ask to cancel an order",
        description="Before the pivot the order is cancelled at once and the other contexts "
        "compensate asynchronously (202). An order already cancelled is answered 200 and "
        "nothing changes; a confirmed order cannot be cancelled (409).",
        request=None,
        responses={
            202: OpenApiResponse(OrderSerializer, description="Cancelled; compensations run."),
            200: OpenApiResponse(OrderSerializer, description="Already cancelled; no change."),
            401: UNAUTHENTICATED,
            403: refusal("Staff without the permission to cancel orders", "permission_denied",
                         "Cancelling another customer's order takes the "
                         "'orders.cancel_order' permission."),
            404: NOT_FOUND,
            409: refusal("Confirmed: past the pivot", "order_confirmed", ORDER_CONFIRMED),
        },
    )
    @action(detail=True, methods=["post"])
    @retry_on_conflict()
    def cancel(self, request: Request, pk: str) -> Response:
        order = self.get_object()
        by_customer = order.customer_id == request.user.pk
        if not by_customer and not request.user.has_perm(CANCEL_PERMISSION):
            # Customer-data staff see every order, but cancelling one for a customer is an act
            # with a permission of its own (the same one the orders admin's action takes).
            raise PermissionDenied("Cancelling another customer's order takes the "
                                   f"{CANCEL_PERMISSION!r} permission.")
        try:
            outcome = services.cancel_order(
                order.id,
                reason="cancelled by customer" if by_customer else "cancelled by operator",
                requested_by="customer" if by_customer
                else f"operator:{request.user.get_username()}",
            )
        except OrderAlreadyConfirmed:
            raise Conflict(ORDER_CONFIRMED, code="order_confirmed") from None
        except services.OrderNotFound:
            raise NotFound("No such order.") from None
        order.refresh_from_db()
        code = (status.HTTP_202_ACCEPTED if outcome is services.CancelOutcome.CANCELLED
                else status.HTTP_200_OK)
        return Response(OrderSerializer(order).data, status=code)
