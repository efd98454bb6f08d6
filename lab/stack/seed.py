"""What a harness run needs in its database: a catalogue with stock and customers with API
tokens. Written through the inventory's own services, so the events are real."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.tokens import issue_token
from inventory import services as inventory
from inventory.domain import MAX_QUANTITY
from inventory.models import Stock

PLENTY = MAX_QUANTITY  # never runs out within a run
SCARCE_SKU = "HARNESS-SCARCE"  # a little stock, so some orders are refused and raced for


@dataclass(frozen=True)
class Catalogue:
    skus: list[str]  # in stock for the whole run
    scarce_sku: str | None  # runs out during the run


def seed_catalogue(products: int = 8, *, scarce_stock: int = 0) -> Catalogue:
    """`products` well-stocked products (HARNESS-1..n), and one scarce one if `scarce_stock`."""
    skus = []
    for n in range(1, products + 1):
        sku = f"HARNESS-{n}"
        _add(sku, f"Harness product {n}", Decimal(f"{n * 3 + 1}.{n * 7 % 100:02d}"), PLENTY)
        skus.append(sku)
    scarce = None
    if scarce_stock:
        _add(SCARCE_SKU, "Harness scarce product", Decimal("42.00"), scarce_stock)
        scarce = SCARCE_SKU
    return Catalogue(skus, scarce)


def _add(sku: str, name: str, price: Decimal, stock: int) -> None:
    if Stock.objects.filter(sku_id=sku).exists():
        return  # seeded before (an attached or reused database)
    with transaction.atomic():
        inventory.add_product(sku, name, price, actor="harness")
        inventory.receive_goods(sku, stock, actor="harness")


def seed_customers(count: int, prefix: str = "harness-customer") -> list[str]:
    """`count` customers (existing ones are reused); returns a new API token of each (only
    their digests are stored, so an earlier run's keys cannot be read back)."""
    model = get_user_model()
    tokens = []
    for n in range(1, count + 1):
        user, created = model.objects.get_or_create(
            username=f"{prefix}-{n}", defaults={"email": f"{prefix}-{n}@example.com"})
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        tokens.append(issue_token(user))
    return tokens
