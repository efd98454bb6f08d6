"""What the order API accepts (strictly: JSON types are not coerced) and what it answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from orders.countries import ISO_3166_ALPHA_2
from orders.domain import MAX_LINES, MAX_QUANTITY
from orders.models import CatalogueEntry, OrderView


class StrictCharField(serializers.CharField):
    """A JSON string; a number or a boolean is refused rather than turned into text."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: "3", 2.5, 3.0 and true are refused."""

    default_error_messages = {"not_an_integer": "Must be a JSON integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_an_integer")
        return super().to_internal_value(data)


class LineSerializer(serializers.Serializer):
    sku = StrictCharField(max_length=64)
    quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY)


class ShippingAddressSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200)
    line1 = StrictCharField(max_length=200)
    line2 = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    city = StrictCharField(max_length=100)
    postal_code = StrictCharField(max_length=20)
    country = StrictCharField(
        min_length=2, max_length=2, help_text="ISO 3166-1 alpha-2 code, e.g. DE."
    )

    def validate_country(self, value: str) -> str:
        code = value.upper()
        if code not in ISO_3166_ALPHA_2:
            raise serializers.ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 code.")
        return code


class PaymentSerializer(serializers.Serializer):
    token = StrictCharField(
        max_length=64, help_text="Payment token; the simulated gateway knows tok_ok (default), "
        "tok_decline, tok_lost_response and tok_flaky."
    )


class PlaceOrderSerializer(serializers.Serializer):
    """Lines naming the same sku are merged into one line (their quantities added; the sum
    must stay within 1..1000)."""

    lines = LineSerializer(many=True, allow_empty=False, max_length=MAX_LINES, help_text=(
        f"1 to {MAX_LINES} lines; quantity 1 to {MAX_QUANTITY} (a JSON integer). Lines with "
        "the same sku are merged, their quantities added (the sum must not exceed "
        f"{MAX_QUANTITY})."
    ))
    shipping_address = ShippingAddressSerializer()
    payment = PaymentSerializer(required=False)

    def validate_lines(self, lines: list[dict[str, Any]]) -> list[tuple[str, int]]:
        known = set(
            CatalogueEntry.objects.filter(sku__in={line["sku"] for line in lines})
            .values_list("sku", flat=True)
        )
        if any(line["sku"] not in known for line in lines):
            # Keyed by line index, the way DRF reports the lines' own field errors.
            raise serializers.ValidationError({
                index: {"sku": [f"Unknown sku {line['sku']!r}."]}
                for index, line in enumerate(lines) if line["sku"] not in known
            })
        merged: dict[str, int] = {}
        for line in lines:
            merged[line["sku"]] = merged.get(line["sku"], 0) + line["quantity"]
        too_many = [f"{sku} ({qty})" for sku, qty in merged.items() if qty > MAX_QUANTITY]
        if too_many:
            raise serializers.ValidationError(
                f"Lines of one sku are merged, and their quantities add up to more than "
                f"{MAX_QUANTITY}: {', '.join(too_many)}."
            )
        return list(merged.items())


class OrderLineSerializer(serializers.Serializer):
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    line_total = serializers.DecimalField(max_digits=14, decimal_places=2)


class AddressOutSerializer(serializers.Serializer):
    name = serializers.CharField()
    line1 = serializers.CharField()
    line2 = serializers.CharField()
    city = serializers.CharField()
    postal_code = serializers.CharField()
    country = serializers.CharField()


# --- the saga block of GET /api/orders/{id}/ ------------------------------------------------
# Orders may not import the saga app; the saga app plugs its view in here (in its ready()).

SagaBlockProvider = Callable[[OrderView], dict[str, Any] | None]
_saga_block: SagaBlockProvider | None = None


def provide_saga_block(provider: SagaBlockProvider | None) -> None:
    """Install the function that builds an order's `saga` block (None: the block is null)."""
    global _saga_block
    _saga_block = provider


class ObservedDesiredSerializer(serializers.Serializer):
    observed = serializers.CharField(help_text="as the events say")
    desired = serializers.CharField()


class StockFacetSerializer(ObservedDesiredSerializer):
    at_participant = serializers.CharField(help_text="as inventory's own reservation says")


class ShipmentFacetSerializer(ObservedDesiredSerializer):
    at_provider = serializers.CharField(help_text="as the carrier's books say")


class PaymentFacetSerializer(serializers.Serializer):
    charged = serializers.DecimalField(max_digits=14, decimal_places=2)
    refunded = serializers.DecimalField(max_digits=14, decimal_places=2)
    net = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="as the events say")
    desired_net = serializers.DecimalField(max_digits=14, decimal_places=2)
    net_at_provider = serializers.DecimalField(max_digits=14, decimal_places=2,
                                               help_text="as the gateway's ledger says")


class ParticipantsSerializer(serializers.Serializer):
    stock = StockFacetSerializer()
    payment = PaymentFacetSerializer()
    shipment = ShipmentFacetSerializer()


class DisagreementSerializer(serializers.Serializer):
    """Why the gap is not zero: one participant, its two sides, and the reason."""

    participant = serializers.CharField()
    events_say = serializers.CharField()
    records_say = serializers.CharField(
        help_text="the participant's own records or the provider's ledger")
    reason = serializers.CharField()


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    type = serializers.CharField()
    source = serializers.CharField()


class SagaBlockSerializer(serializers.Serializer):
    """Documents the saga block's shape (DESIGN.md, API contract)."""

    state = serializers.ChoiceField(["running", "compensating", "converged", "needs_attention"])
    desired_outcome = serializers.ChoiceField(["fulfilled", "cancelled"])
    gap = serializers.IntegerField()
    current_step = serializers.CharField()
    attention_reason = serializers.CharField(allow_null=True)
    participants = ParticipantsSerializer()
    disagreements = DisagreementSerializer(
        many=True, help_text="never empty while gap > 0: the participants that explain it")
    timeline = TimelineEntrySerializer(many=True, help_text="The newest SAGA_TIMELINE_LIMIT "
                                       "(100) events, oldest first.")
    timeline_truncated = serializers.BooleanField(help_text="Older events were left out.")


class OrderSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.get_username", read_only=True)
    lines = OrderLineSerializer(many=True, read_only=True)
    shipping_address = AddressOutSerializer(read_only=True)

    class Meta:
        model = OrderView
        fields = ["id", "customer", "status", "reason", "lines", "total", "shipping_address",
                  "created_at", "updated_at", "confirmed_at", "cancelled_at"]
        read_only_fields = fields


class OrderDetailSerializer(OrderSerializer):
    saga = serializers.SerializerMethodField()

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "saga"]
        read_only_fields = fields

    @extend_schema_field(SagaBlockSerializer(allow_null=True))
    def get_saga(self, order: OrderView) -> dict[str, Any] | None:
        return _saga_block(order) if _saga_block is not None else None
