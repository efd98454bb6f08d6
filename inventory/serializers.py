"""What the catalogue API reads and writes. Input is checked strictly: a wrong JSON type is a
field error, not something coerced (`true` is not a quantity, `"5"` is not a number)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from inventory.domain import CENT, MAX_PRICE, MAX_QUANTITY, SKU_PATTERN


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "A whole number is required (a JSON integer)."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "A string is required."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDecimalField(serializers.DecimalField):
    """A price as a JSON string ("12.50") or number (12.5); never a boolean."""

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class CatalogueItemSerializer(serializers.Serializer):
    sku = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, read_only=True)
    available = serializers.IntegerField(
        read_only=True, help_text="on hand minus held; 0 when sold out"
    )


class NewProductSerializer(serializers.Serializer):
    sku = StrictCharField(
        max_length=64,
        help_text="1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    )
    name = StrictCharField(max_length=200)
    price = StrictDecimalField(max_digits=10, decimal_places=2, min_value=CENT,
                               max_value=MAX_PRICE, help_text='decimal string, e.g. "12.50"')

    def validate_sku(self, value: str) -> str:
        if not SKU_PATTERN.fullmatch(value):
            raise serializers.ValidationError(
                "Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit."
            )
        return value


class ReceiveGoodsSerializer(serializers.Serializer):
    quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY,
                                  help_text=f"units received, 1..{MAX_QUANTITY:,}")


class StockSerializer(serializers.Serializer):
    """A product's stock, as staff see it after goods are received."""

    sku = serializers.CharField(source="sku_id", read_only=True)
    on_hand = serializers.IntegerField(read_only=True)
    held = serializers.IntegerField(read_only=True)
    available = serializers.IntegerField(read_only=True)
