"""The carrier port, and the simulated carrier that is its default adapter.

The port is what a parcel carrier's API offers: book a shipment under an idempotency key (the
same key returns the same booking, never a second one), cancel it, look it up by key, and list
the bookings made for a batch of orders (`bookings_for`: what the reconciler and the audit
compare with our records).

The simulated carrier keeps its ledger through the "providers" database alias, a connection of
its own: like a real carrier's records, a booking survives a rollback of our transaction. It
refuses any address whose postal code is "00000", and injects the random faults of
`settings.SHIPPING_FAULTS` (`error`, `lost_response` rates, `slow_ms` upper bound on an answer's
delay), so chaos runs, demos and tests use one code path.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass
from typing import Protocol

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from common import sql
from common.faults import SimulatedFaults, parse_rates
from common.providers import PROVIDERS_DB
from shipping.domain import REFUSED_ADDRESS
from shipping.events import Address
from shipping.models import CarrierLedgerEntry

log = logging.getLogger(__name__)

FAULT_NAMES = frozenset({"error", "lost_response", "slow_ms"})
REFUSED_POSTAL_CODE = "00000"


@dataclass(frozen=True)
class Booking:
    idempotency_key: str
    shipment_id: str
    tracking_code: str
    order_id: str
    live: bool  # False once cancelled


class CarrierError(Exception):
    """Transient: the carrier did not do it (or cannot say); the same request may be retried."""


class CarrierTimeout(CarrierError):
    """No answer: the booking may have been made; look it up by idempotency key."""


class CarrierRefused(Exception):
    """The carrier will not take this shipment: final for this address."""

    def __init__(self, reason: str = REFUSED_ADDRESS) -> None:
        super().__init__(reason)
        self.reason = reason


class Carrier(Protocol):
    def book(self, idempotency_key: str, address: Address, *, order_id: str = "") -> Booking: ...

    def cancel(self, idempotency_key: str) -> Booking | None: ...

    def look_up(self, idempotency_key: str) -> Booking | None: ...

    def bookings_for(self, order_ids: Collection[str]) -> dict[str, list[Booking]]:
        """Every booking made for these orders (the merchant's reference), live or cancelled,
        in the order they were made; an order with none has an empty list."""
        ...


def default_carrier() -> Carrier:
    """The carrier the services and selectors use when none is given: the adapter that
    `settings.SHIPPING_CARRIER` names (settings are read on each call)."""
    return import_string(settings.SHIPPING_CARRIER)()


def simulated_carrier() -> Carrier:
    """The simulated carrier, with the random faults of `settings.SHIPPING_FAULTS`, waited
    for no longer than `settings.PROVIDER_TIMEOUT_SECONDS`."""
    return SimulatedCarrier(parse_rates(settings.SHIPPING_FAULTS, known=FAULT_NAMES,
                                        what="shipping"),
                            timeout=settings.PROVIDER_TIMEOUT_SECONDS)


def _booking_of(entry: CarrierLedgerEntry) -> Booking:
    return Booking(
        idempotency_key=entry.idempotency_key,
        shipment_id=entry.shipment_id,
        tracking_code=entry.tracking_code,
        order_id=entry.order_id,
        live=entry.status == CarrierLedgerEntry.Status.BOOKED,
    )


class SimulatedCarrier:
    def __init__(
        self,
        faults: Mapping[str, float] | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
        *,
        timeout: float | None = None,
    ) -> None:
        self.timeout = timeout  # seconds we wait for an answer; None waits for ever
        self.faults = SimulatedFaults(faults, known=FAULT_NAMES, what="shipping", rng=rng,
                                      sleep=sleep, log=log, provider="carrier",
                                      timeout=timeout, timeout_error=CarrierTimeout)

    def book(self, idempotency_key: str, address: Address, *, order_id: str = "") -> Booking:
        self.faults.answer_slowly()
        self._fail_at_random()
        if address.postal_code.strip() == REFUSED_POSTAL_CODE:
            raise CarrierRefused()
        entry = CarrierLedgerEntry(
            idempotency_key=idempotency_key, shipment_id=f"shp_{uuid.uuid4().hex[:20]}",
            tracking_code=f"TRK{uuid.uuid4().int % 10**12:012d}", order_id=order_id,
            address=asdict(address))
        if not sql.insert(entry, unless_present=True, using=PROVIDERS_DB):
            # Booked under this key before: the first booking is the answer.
            entry = sql.first(CarrierLedgerEntry, using=PROVIDERS_DB,
                               idempotency_key=idempotency_key)  # type: ignore[assignment]
        self._lose_response_at_random()
        return _booking_of(entry)

    def cancel(self, idempotency_key: str) -> Booking | None:
        """Cancel the booking made under this key; None when there is none. Idempotent."""
        self.faults.answer_slowly()
        self._fail_at_random()
        ledger = CarrierLedgerEntry.objects.using(PROVIDERS_DB)
        ledger.filter(idempotency_key=idempotency_key,
                      status=CarrierLedgerEntry.Status.BOOKED).update(
            status=CarrierLedgerEntry.Status.CANCELLED, cancelled_at=timezone.now())
        self._lose_response_at_random()
        return self.look_up(idempotency_key)

    def look_up(self, idempotency_key: str) -> Booking | None:
        self._fail_at_random()
        entry = (CarrierLedgerEntry.objects.using(PROVIDERS_DB)
                 .filter(idempotency_key=idempotency_key).first())
        return _booking_of(entry) if entry else None

    def bookings_for(self, order_ids: Collection[str]) -> dict[str, list[Booking]]:
        # Slow at times, never failed at random: the reconciler and the audit read through it,
        # and their figures must not depend on the chaos rates of the calls they check.
        self.faults.answer_slowly()
        found: dict[str, list[Booking]] = {order_id: [] for order_id in order_ids}
        for entry in (CarrierLedgerEntry.objects.using(PROVIDERS_DB)
                      .filter(order_id__in=list(found)).order_by("id")):
            found[entry.order_id].append(_booking_of(entry))
        return found

    # --- faults --------------------------------------------------------------------------

    def _fail_at_random(self) -> None:
        if self.faults.fires("error"):
            raise CarrierError("carrier unavailable")

    def _lose_response_at_random(self) -> None:
        if self.faults.fires("lost_response"):
            raise CarrierTimeout("carrier did not answer in time")
