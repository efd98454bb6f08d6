"""No secret, token or card-like number in events, snapshots or log lines.

The customer's payment token travels sealed (common/sealing.py): the orders context seals it
before `OrderPlaced`, only payments opens it, to hand it to the provider. Events stored before
(schema version 1, token in clear) are sealed by their upcasters on reading. A whole order,
through the API and a real worker, leaves neither the token nor the API key nor anything
card-like in any event, snapshot or log line (JSON lines, extras included).
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from rest_framework.test import APIClient

from common.sealing import NotSealed, is_sealed, seal, unseal
from config.logging import CorrelationFilter, JsonFormatter
from inventory import services as inventory
from orders.models import OrderSnapshot
from outbox import store
from outbox.envelope import Envelope
from outbox.models import Delivery, Event
from payments.events import OrderPlacementNoted, PaymentSettlementRequested
from payments.models import GatewayLedgerEntry, PaymentSnapshot
from payments.tests.facts import held, placed
from tests.conftest import wait_for
from tests.support.delivery import deliver_pending, publish
from tests.support.people import token_for

# A test card number (Luhn-valid) inside a token: what must never be seen in clear.
CARD = "4111111111111111"
TOKEN = f"tok_{CARD}"
# A run of 13 to 19 digits not inside a longer word or number ("tok_4111..." counts; a hex
# id or the fraction of "0.3308363680007s" does not).
DIGIT_RUN = re.compile(r"(?<![A-Za-z0-9.])\d{13,19}(?![A-Za-z0-9])")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def card_like(text: str) -> list[str]:
    """Every stand-alone 13-19 digit run that passes the Luhn check, as a card number does."""
    return [run for run in DIGIT_RUN.findall(text) if luhn_valid(run)]


# --- sealing -----------------------------------------------------------------------------

def test_the_card_detector_finds_card_numbers_and_nothing_else():
    assert card_like(f'{{"token": "{TOKEN}"}}') == [CARD]
    assert card_like("card 4242424242424242.") == ["4242424242424242"]
    assert card_like("4111111111111112 0.330836368000746s a4111111111111111") == []


def test_a_sealed_token_hides_the_token_and_opens_only_with_the_key():
    sealed = seal(TOKEN)
    assert TOKEN not in sealed and CARD not in sealed and not card_like(sealed)
    assert unseal(sealed) == TOKEN
    assert seal(TOKEN) != sealed, "two seals of one token must not be comparable"
    with pytest.raises(NotSealed):
        unseal(TOKEN)  # a clear value is refused, not passed through
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(NotSealed):
        unseal(tampered)
    assert seal("") == "" and unseal("") == "" and not is_sealed(TOKEN)


def test_the_key_is_derived_from_the_secret_unless_configured_and_can_be_rotated(settings):
    derived = seal(TOKEN)
    settings.SECRET_KEY = "another-secret-" + "x" * 40
    with pytest.raises(NotSealed):
        unseal(derived)

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PAYMENT_TOKEN_KEY = old
    under_old = seal(TOKEN)
    settings.PAYMENT_TOKEN_KEY = f"{new},{old}"  # rotation: the new key seals, both open
    assert unseal(under_old) == TOKEN
    assert Fernet(new.encode()).decrypt(seal(TOKEN).encode()).decode() == TOKEN
    settings.PAYMENT_TOKEN_KEY = new
    with pytest.raises(NotSealed):
        unseal(under_old)
    settings.PAYMENT_TOKEN_KEY = "not-a-key"
    with pytest.raises(ImproperlyConfigured, match="PAYMENT_TOKEN_KEY"):
        seal(TOKEN)


# --- upcasting stored version-1 events ----------------------------------------------------

def stored_as_version_1(row: Event, clear_field: str, clear: str) -> Event:
    """Rewrite a stored row the way version 1 wrote it: the token in clear."""
    Event.objects.filter(id=row.id).update(
        schema_version=1, payload={**row.payload, clear_field: clear})
    return Event.objects.get(id=row.id)


@pytest.mark.django_db
@pytest.mark.parametrize(("make", "field"), [
    (lambda: placed("o-v1"), "payment_token"),
    (lambda: OrderPlacementNoted("o-v1", Decimal("5.00"), seal("tok_x")), "token"),
    (lambda: PaymentSettlementRequested("o-v1", "stalled", Decimal("5.00"), seal("tok_x"),
                                        True, False), "token"),
])
def test_version_1_events_are_read_with_their_token_sealed(make, field):
    event = make()
    assert type(event).schema_version == 2
    with transaction.atomic():
        [row] = store.append("test.Stream", "o-v1", 0, [event], correlation_id="o-v1")
    old = stored_as_version_1(row, field, TOKEN)

    read = Envelope.from_model(old).event

    assert getattr(read, field) != TOKEN and unseal(getattr(read, field)) == TOKEN


@pytest.mark.django_db(transaction=True, databases=["default", "providers"])
def test_payments_charges_a_version_1_order_with_its_clear_token():
    # tok_decline in clear in a stored v1 OrderPlaced: upcast, sealed, opened, declined.
    order_id = "order-v1-decline"
    [row, _] = publish(placed(order_id), held(order_id), send=True)
    stored_as_version_1(row, "payment_token", "tok_decline")
    deliver_pending("payments.charge_payment")
    assert Event.objects.filter(correlation_id=order_id,
                                event_type="payments.PaymentDeclined").exists()


# --- a whole order leaves nothing in clear -----------------------------------------------

@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every log line of this process as production writes it (JSON, extras included)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(CorrelationFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield buffer
    root.removeHandler(handler)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True, databases=["default", "providers"])
def test_a_whole_order_leaves_no_token_or_card_number_in_events_snapshots_or_logs(
        start_worker, broker, json_log):
    worker = start_worker(LOG_FORMAT="json", LOG_LEVEL="DEBUG")
    inventory.add_product("SKU-1", "Widget", Decimal("12.50"))
    inventory.receive_goods("SKU-1", 10)
    user = get_user_model().objects.create_user("carol", "carol@example.com")
    api_key = token_for(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key}")

    refused = client.post("/api/orders/", {"lines": [], "payment": {"token": TOKEN}},
                          format="json")
    assert refused.status_code == 400  # a refused request is logged too
    response = client.post("/api/orders/", {
        "lines": [{"sku": "SKU-1", "quantity": 2}],
        "shipping_address": {"name": "Carol", "line1": "1 Way", "city": "Town",
                             "postal_code": "12345", "country": "DE"},
        "payment": {"token": TOKEN},
    }, format="json")
    assert response.status_code == 202, response.content
    order_id = response.json()["id"]
    wait_for(lambda: client.get(f"/api/orders/{order_id}/").json()["status"] == "confirmed",
             timeout=30, message="the order to confirm")
    wait_for(lambda: not Delivery.objects.filter(status="pending").exists(), timeout=30,
             message="every delivery to be done")

    # The provider was handed the token in clear: payments opened it, and only to charge.
    charge = GatewayLedgerEntry.objects.using("providers").get(order_id=order_id, kind="charge")
    assert charge.token == TOKEN

    events = json.dumps([(e.event_type, e.payload, e.metadata)
                         for e in Event.objects.filter(correlation_id=order_id)])
    snapshots = json.dumps([s.state for s in (*OrderSnapshot.objects.filter(stream_id=order_id),
                                              *PaymentSnapshot.objects.filter(stream_id=order_id))])
    logs = json_log.getvalue() + worker.output()
    assert "orders.OrderPlaced" in events and "payments.PaymentCaptured" in events
    assert "POST /api/orders/ 202" in logs and "Task outbox.deliver" in logs
    for where, text in (("events", events), ("snapshots", snapshots), ("logs", logs)):
        assert TOKEN not in text, f"the payment token in clear in the {where}"
        assert not card_like(text), f"a card-like number in the {where}: {card_like(text)}"
    assert api_key not in logs, "the API token (Authorization header) was logged"
