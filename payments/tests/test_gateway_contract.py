"""What every `PaymentGateway` adapter must do, whatever provider it talks to.

The reconciler and the audit rely on these answers: a key replays the first answer and moves
no money again, a lost answer is found by its key, every charge of an order (a provider's
duplicate included) and every refund shows in `charges_for`, in one list call for many orders.

A new adapter is checked by adding a `GatewayUnderTest` to ADAPTERS: how to make it, the test
tokens its sandbox approves and declines, and how its sandbox loses an answer or books a charge
twice (None when it cannot be made to: those tests are skipped for it, with the reason).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest

from payments.domain import charge_key, refund_key
from payments.gateway import (
    GatewayRejected,
    GatewayTimeout,
    PaymentGateway,
    PaymentRefused,
    SimulatedGateway,
    default_gateway,
)

pytestmark = [pytest.mark.django_db(databases=["default", "providers"]),
              pytest.mark.usefixtures("provider_connection_closed_after")]

AMOUNT = Decimal("41.50")


@dataclass(frozen=True)
class GatewayUnderTest:
    make: Callable[[], PaymentGateway]  # a gateway that answers as the provider normally does
    approved_token: str
    declined_token: str
    # A gateway and token whose charge goes through but whose answer is lost.
    losing_answer: Callable[[], tuple[PaymentGateway, str]] | None
    # A gateway and token whose charge the provider books twice.
    duplicating: Callable[[], tuple[PaymentGateway, str]] | None


SIMULATED = GatewayUnderTest(
    make=SimulatedGateway,
    approved_token="tok_ok",
    declined_token="tok_decline",
    losing_answer=lambda: (SimulatedGateway(), "tok_lost_response"),
    duplicating=lambda: (SimulatedGateway({"duplicate": 1.0}), "tok_ok"),
)

ADAPTERS = [pytest.param(SIMULATED, id="simulated")]


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> GatewayUnderTest:
    return request.param


@pytest.fixture
def gateway(adapter: GatewayUnderTest) -> PaymentGateway:
    return adapter.make()


def new_order() -> str:
    return uuid.uuid4().hex  # the provider's books commit on their own: keep tests apart


def test_a_charge_is_found_by_its_key_and_listed_under_its_order(gateway, adapter):
    order_id = new_order()
    charge = gateway.charge(charge_key(order_id), AMOUNT, adapter.approved_token,
                            order_id=order_id)
    assert (charge.idempotency_key, charge.order_id, charge.amount) == (
        charge_key(order_id), order_id, AMOUNT)
    assert gateway.look_up(charge_key(order_id)) == charge
    ledger = gateway.charges_for([order_id])[order_id]
    assert ledger.charges == (charge,) and ledger.refunds == ()
    assert ledger.net == AMOUNT


def test_the_same_key_answers_the_first_charge_and_moves_no_money_again(gateway, adapter):
    order_id = new_order()
    first = gateway.charge(charge_key(order_id), AMOUNT, adapter.approved_token,
                           order_id=order_id)
    again = gateway.charge(charge_key(order_id), AMOUNT, adapter.approved_token,
                           order_id=order_id)
    assert again == first
    assert gateway.charges_for([order_id])[order_id].charged == AMOUNT


def test_a_key_reused_for_another_amount_is_rejected(gateway, adapter):
    order_id = new_order()
    gateway.charge(charge_key(order_id), AMOUNT, adapter.approved_token, order_id=order_id)
    with pytest.raises(GatewayRejected):
        gateway.charge(charge_key(order_id), AMOUNT + 1, adapter.approved_token,
                       order_id=order_id)


def test_a_declined_charge_moves_no_money_and_is_not_found(gateway, adapter):
    order_id = new_order()
    with pytest.raises(PaymentRefused):
        gateway.charge(charge_key(order_id), AMOUNT, adapter.declined_token, order_id=order_id)
    assert gateway.look_up(charge_key(order_id)) is None
    assert gateway.charges_for([order_id])[order_id].net == 0


def test_a_refund_is_found_by_its_key_and_listed_against_its_charge(gateway, adapter):
    order_id = new_order()
    charge = gateway.charge(charge_key(order_id), AMOUNT, adapter.approved_token,
                            order_id=order_id)
    part = Decimal("10.00")
    refund = gateway.refund(refund_key(order_id, 1), charge.charge_id, part)
    assert (refund.charge_id, refund.order_id, refund.amount) == (
        charge.charge_id, order_id, part)
    assert gateway.look_up_refund(refund_key(order_id, 1)) == refund
    assert gateway.refund(refund_key(order_id, 1), charge.charge_id, part) == refund
    ledger = gateway.charges_for([order_id])[order_id]
    assert ledger.refunds == (refund,)
    assert ledger.refunded_of(charge.charge_id) == part
    assert ledger.net == AMOUNT - part


def test_more_than_was_charged_cannot_be_refunded(gateway, adapter):
    order_id = new_order()
    charge = gateway.charge(charge_key(order_id), AMOUNT, adapter.approved_token,
                            order_id=order_id)
    gateway.refund(refund_key(order_id, 1), charge.charge_id, AMOUNT)
    with pytest.raises(GatewayRejected):
        gateway.refund(refund_key(order_id, 2), charge.charge_id, Decimal("0.01"))
    assert gateway.charges_for([order_id])[order_id].net == 0


def test_a_lost_answer_is_found_by_its_key_and_never_charged_twice(adapter):
    if adapter.losing_answer is None:
        pytest.skip("this provider's sandbox cannot be made to lose an answer")
    gateway, token = adapter.losing_answer()
    order_id = new_order()
    with pytest.raises(GatewayTimeout):
        gateway.charge(charge_key(order_id), AMOUNT, token, order_id=order_id)
    found = adapter.make().look_up(charge_key(order_id))
    assert found is not None and found.amount == AMOUNT
    again = adapter.make().charge(charge_key(order_id), AMOUNT, token, order_id=order_id)
    assert again == found
    assert adapter.make().charges_for([order_id])[order_id].charges == (found,)


def test_a_duplicate_charge_shows_in_the_list_and_can_be_refunded(adapter):
    if adapter.duplicating is None:
        pytest.skip("this provider's sandbox cannot be made to book a charge twice")
    gateway, token = adapter.duplicating()
    order_id = new_order()
    own = gateway.charge(charge_key(order_id), AMOUNT, token, order_id=order_id)
    ledger = adapter.make().charges_for([order_id])[order_id]
    assert len(ledger.charges) == 2 and ledger.charged == 2 * AMOUNT
    assert ledger.charges[0] == own  # the order's own charge comes first
    extra = ledger.charges[1]
    assert extra.charge_id != own.charge_id and extra.order_id == order_id
    adapter.make().refund(refund_key(order_id, 1), extra.charge_id, AMOUNT)
    assert adapter.make().charges_for([order_id])[order_id].net == AMOUNT


def test_many_orders_are_listed_in_one_call_each_with_only_its_own(gateway, adapter):
    first, second, untouched = new_order(), new_order(), new_order()
    one = gateway.charge(charge_key(first), AMOUNT, adapter.approved_token, order_id=first)
    two = gateway.charge(charge_key(second), AMOUNT * 2, adapter.approved_token,
                         order_id=second)
    ledgers = gateway.charges_for([first, second, untouched])
    assert set(ledgers) == {first, second, untouched}
    assert ledgers[first].charges == (one,)
    assert ledgers[second].charges == (two,)
    assert ledgers[untouched].charges == () and ledgers[untouched].net == 0


def test_the_setting_names_the_adapter_the_services_use(settings):
    assert isinstance(default_gateway(), SimulatedGateway)
    settings.PAYMENTS_GATEWAY = f"{__name__}.stand_in_gateway"
    assert default_gateway() is STAND_IN


STAND_IN = SimulatedGateway()


def stand_in_gateway() -> PaymentGateway:
    return STAND_IN
