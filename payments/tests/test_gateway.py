"""The simulated provider against the real PostgreSQL, through its own connection."""

import random
import uuid
from decimal import Decimal

import pytest
from django.db import transaction

from common.faults import parse_rates
from payments.gateway import (
    FAULT_NAMES,
    GatewayError,
    GatewayRejected,
    GatewayTimeout,
    PaymentRefused,
    SimulatedGateway,
    default_gateway,
)
from payments.models import GatewayCall, GatewayLedgerEntry

pytestmark = [pytest.mark.django_db(databases=["default", "providers"]),
              pytest.mark.usefixtures("provider_connection_closed_after")]

AMOUNT = Decimal("32.25")


@pytest.fixture
def order_id() -> str:
    return uuid.uuid4().hex  # provider rows commit on their own connection: keep tests apart


def key_of(order_id: str) -> str:
    return f"order-{order_id}-charge"


def charges(order_id: str) -> list[GatewayLedgerEntry]:
    return list(GatewayLedgerEntry.objects.using("providers")
                .filter(order_id=order_id, kind="charge").order_by("id"))


def test_charging_twice_with_one_key_moves_the_money_once(order_id):
    gateway = SimulatedGateway()
    first = gateway.charge(key_of(order_id), AMOUNT, "tok_ok", order_id=order_id)
    second = gateway.charge(key_of(order_id), AMOUNT, "tok_ok", order_id=order_id)
    assert first == second
    assert [c.entry_id for c in charges(order_id)] == [first.charge_id]
    assert gateway.charges_for([order_id])[order_id].net == AMOUNT


def test_a_key_reused_for_another_amount_is_rejected(order_id):
    gateway = SimulatedGateway()
    gateway.charge(key_of(order_id), AMOUNT, "tok_ok", order_id=order_id)
    with pytest.raises(GatewayRejected):
        gateway.charge(key_of(order_id), Decimal("1.00"), "tok_ok", order_id=order_id)
    assert len(charges(order_id)) == 1


def test_a_lost_response_is_found_by_key_and_never_charged_twice(order_id):
    gateway = SimulatedGateway()
    with pytest.raises(GatewayTimeout):
        gateway.charge(key_of(order_id), AMOUNT, "tok_lost_response", order_id=order_id)
    found = gateway.look_up(key_of(order_id))
    assert found is not None and found.amount == AMOUNT
    again = gateway.charge(key_of(order_id), AMOUNT, "tok_lost_response", order_id=order_id)
    assert again == found
    assert len(charges(order_id)) == 1


def test_look_up_of_a_key_never_charged_finds_nothing(order_id):
    assert SimulatedGateway().look_up(key_of(order_id)) is None


def test_the_flaky_token_fails_twice_then_charges_on_the_third_attempt(order_id):
    gateway = SimulatedGateway()
    for _ in range(2):
        with pytest.raises(GatewayError):
            gateway.charge(key_of(order_id), AMOUNT, "tok_flaky", order_id=order_id)
        assert charges(order_id) == []
    charge = gateway.charge(key_of(order_id), AMOUNT, "tok_flaky", order_id=order_id)
    assert [c.entry_id for c in charges(order_id)] == [charge.charge_id]
    outcomes = list(GatewayCall.objects.using("providers").filter(idempotency_key=key_of(order_id))
                    .order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["error", "error", "succeeded"]


def test_the_decline_token_is_declined_and_stays_declined_for_its_key(order_id):
    gateway = SimulatedGateway()
    with pytest.raises(PaymentRefused) as refused:
        gateway.charge(key_of(order_id), AMOUNT, "tok_decline", order_id=order_id)
    assert refused.value.reason == "payment declined"
    # A provider answers a key it has declined with the same decline, whatever the token now.
    with pytest.raises(PaymentRefused):
        gateway.charge(key_of(order_id), AMOUNT, "tok_ok", order_id=order_id)
    assert charges(order_id) == []


def test_the_duplicate_fault_books_a_second_charge_that_the_ledger_shows(order_id):
    gateway = SimulatedGateway({"duplicate": 1.0})
    charge = gateway.charge(key_of(order_id), AMOUNT, "tok_ok", order_id=order_id)
    rows = charges(order_id)
    assert len(rows) == 2
    assert rows[1].duplicate_of == charge.charge_id
    assert gateway.look_up(key_of(order_id)) == charge
    assert gateway.charges_for([order_id])[order_id].charged == 2 * AMOUNT


@pytest.mark.parametrize("fault, error", [("decline", PaymentRefused), ("error", GatewayError),
                                          ("lost_response", GatewayTimeout)])
def test_random_faults_from_settings_apply_to_ordinary_tokens(order_id, fault, error):
    gateway = SimulatedGateway({fault: 1.0}, rng=random.Random(7))
    with pytest.raises(error):
        gateway.charge(key_of(order_id), AMOUNT, "tok_ok", order_id=order_id)
    assert len(charges(order_id)) == (1 if fault == "lost_response" else 0)


def test_random_faults_leave_the_test_tokens_deterministic(order_id):
    gateway = SimulatedGateway({"decline": 1.0, "error": 1.0, "duplicate": 1.0})
    with pytest.raises(GatewayTimeout):
        gateway.charge(key_of(order_id), AMOUNT, "tok_lost_response", order_id=order_id)
    assert len(charges(order_id)) == 1


def test_fault_settings_are_parsed_and_a_misspelt_fault_is_an_error():
    text = "decline=0.1,error=0.05,lost_response=0.05,slow_ms=200,duplicate=0.01"
    assert parse_rates(text, known=FAULT_NAMES, what="payment") == {
        "decline": 0.1, "error": 0.05, "lost_response": 0.05, "slow_ms": 200.0, "duplicate": 0.01}
    with pytest.raises(ValueError, match="declne"):
        parse_rates("declne=0.1", known=FAULT_NAMES, what="payment")


def test_a_refund_is_a_new_entry_and_replays_by_its_key(order_id):
    gateway = SimulatedGateway()
    charge = gateway.charge(key_of(order_id), AMOUNT, "tok_ok", order_id=order_id)
    refund = gateway.refund(f"order-{order_id}-refund-1", charge.charge_id, AMOUNT)
    assert gateway.refund(f"order-{order_id}-refund-1", charge.charge_id, AMOUNT) == refund
    ledger = gateway.charges_for([order_id])[order_id]
    assert (ledger.charged, ledger.refunded, ledger.net) == (AMOUNT, AMOUNT, Decimal("0"))
    assert len(charges(order_id)) == 1  # the charge is still there: refunds add, never erase


def test_refunding_more_than_was_charged_is_rejected(order_id):
    gateway = SimulatedGateway()
    charge = gateway.charge(key_of(order_id), AMOUNT, "tok_ok", order_id=order_id)
    gateway.refund(f"order-{order_id}-refund-1", charge.charge_id, Decimal("30.00"))
    with pytest.raises(GatewayRejected):
        gateway.refund(f"order-{order_id}-refund-2", charge.charge_id, Decimal("5.00"))
    assert gateway.charges_for([order_id])[order_id].refunded == Decimal("30.00")


def test_a_lost_refund_answer_is_found_by_its_key(order_id):
    charge = SimulatedGateway().charge(key_of(order_id), AMOUNT, "tok_ok", order_id=order_id)
    gateway = SimulatedGateway({"lost_response": 1.0})
    with pytest.raises(GatewayTimeout):
        gateway.refund(f"order-{order_id}-refund-1", charge.charge_id, AMOUNT)
    found = gateway.look_up_refund(f"order-{order_id}-refund-1")
    assert found is not None and found.amount == AMOUNT and found.charge_id == charge.charge_id


class CallerFailed(Exception):
    pass


@pytest.mark.django_db(transaction=True, databases=["default", "providers"])
def test_the_ledger_survives_a_rollback_of_the_callers_transaction(order_id):
    gateway = SimulatedGateway()
    with pytest.raises(CallerFailed), transaction.atomic():
        charge = gateway.charge(key_of(order_id), AMOUNT, "tok_ok", order_id=order_id)
        raise CallerFailed
    assert [c.entry_id for c in charges(order_id)] == [charge.charge_id]
    # ... and what the caller sees on its own connection, once the provider answered.
    assert GatewayLedgerEntry.objects.filter(order_id=order_id).count() == 1


def test_a_gateway_slower_than_the_timeout_is_a_timeout_after_the_timeout(order_id):
    waits: list[float] = []
    gateway = SimulatedGateway({"slow_ms": 60_000}, rng=random.Random(7), timeout=0.05,
                               sleep=waits.append)
    with pytest.raises(GatewayTimeout):
        gateway.charge(key_of(order_id), Decimal("10.00"), "tok_ok", order_id=order_id)
    assert waits == [0.05]


def test_the_default_gateway_waits_no_longer_than_the_provider_timeout(settings):
    settings.PROVIDER_TIMEOUT_SECONDS = 3.5
    assert default_gateway().timeout == 3.5
