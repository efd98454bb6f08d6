"""A demo catalogue with stock, a staff user and two customers, with new API tokens.

Idempotent for the data: a product already in the catalogue is left as it is (its stock is
received only when it is first added), users are reused; each run prints a new token per user
(only digests are stored, so an earlier key cannot be shown again). The staff user is a
superuser only with DEBUG on; otherwise it gets the job groups (accounts/groups.py). Compose
runs this only with SEED_DEMO=1.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.groups import GROUPS
from accounts.tokens import issue_token
from inventory import services as inventory
from inventory.domain import ProductAlreadyExists

# sku, name, price, stock received when first added (SKU-7 is sold out, to show a refusal)
CATALOGUE = [
    ("SKU-1", "Espresso beans, 1 kg", "24.50", 500),
    ("SKU-2", "Burr grinder", "89.99", 40),
    ("SKU-3", "Paper filters, 100", "3.20", 1000),
    ("SKU-4", "Milk jug", "12.00", 80),
    ("SKU-5", "Espresso cups, pair", "15.75", 120),
    ("SKU-6", "Descaler", "7.80", 200),
    ("SKU-7", "Limited reserve roast", "39.00", 0),
]
# username, e-mail, staff
USERS = [
    ("staff", "staff@example.com", True),
    ("alice", "alice@example.com", False),
    ("bob", "bob@example.com", False),
]


class Command(BaseCommand):
    help = "Create a demo catalogue with stock, a staff user and two customers (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password", default="",
            help="Also set this password on the demo users (for the admin and the browsable "
                 "API); by default they have none and use their tokens.",
        )

    def handle(self, *args: Any, password: str = "", **options: Any) -> None:
        for sku, name, price, quantity in CATALOGUE:
            try:
                with transaction.atomic():
                    inventory.add_product(sku, name, Decimal(price), actor="seed_demo")
                    if quantity:
                        inventory.receive_goods(sku, quantity, actor="seed_demo")
            except ProductAlreadyExists:
                self.stdout.write(f"  {sku} already in the catalogue")
                continue
            self.stdout.write(f"  {sku} {name} at {price}, {quantity} in stock")

        model = get_user_model()
        self.stdout.write("\nAPI tokens (Authorization: Token <key>):")
        for username, email, staff in USERS:
            user, created = model.objects.get_or_create(
                username=username,
                # Never a superuser in production: a seeded account with known tokens.
                defaults={"email": email, "is_staff": staff,
                          "is_superuser": staff and settings.DEBUG},
            )
            if staff:
                user.groups.add(*Group.objects.filter(name__in=GROUPS))
            if created and not password:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            if password:
                user.set_password(password)
                user.save(update_fields=["password"])
            role = "staff" if user.is_staff else "customer"
            self.stdout.write(f"  {username:<6} ({role:<8}) {issue_token(user)}")
