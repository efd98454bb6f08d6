"""Why a saga's gap is not zero, in words: per participant, what the events say beside what
the participant's own records and the provider's ledger say, and the reason they disagree.

A gap is never a bare number: whenever the saga row shows a gap, at least one disagreement
names a participant and its reason (the API's saga block and the admin's saga page show them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from saga import desired
from saga.models import OrderSaga
from saga.observation import Observation

# Whose records each facet is read from.
RECORDS_OF = {
    "order": "the order's own record",
    "stock": "inventory's reservation",
    "payment": "the gateway's ledger",
    "shipment": "the carrier's books",
}


@dataclass(frozen=True)
class Disagreement:
    participant: str
    events_say: str
    records_say: str
    reason: str


@dataclass(frozen=True)
class SideBySide:
    """One facet: desired, as the events say, as the participant's records say."""

    name: str
    desired: str
    events: str
    records: str
    agrees: bool


def side_by_side(saga: OrderSaga, obs: Observation) -> list[SideBySide]:
    from_events = {f.name: f for f in desired.facets(saga.observed())}
    from_records = {f.name: f for f in desired.facets(obs.seen(saga))}
    return [SideBySide(name, from_records[name].desired, from_events[name].observed,
                       from_records[name].observed,
                       from_events[name].agrees and from_records[name].agrees)
            for name in from_events]


def disagreements(saga: OrderSaga, obs: Observation) -> list[Disagreement]:
    """Every participant whose events or records differ from each other or from the desired
    state, with why; never empty while the saga row shows a gap."""
    found = []
    for facet in side_by_side(saga, obs):
        if facet.agrees and facet.events == facet.records:
            continue
        found.append(Disagreement(facet.name, facet.events, facet.records,
                                  _reason(facet, obs)))
    if saga.gap and not found:
        found.append(Disagreement(
            "saga", f"gap {saga.gap}", "gap 0",
            "the reconciler's last look found a gap, but every participant agrees now; "
            "its next check closes it"))
    return found


def as_json(found: list[Disagreement]) -> list[dict[str, Any]]:
    return [asdict(d) for d in found]


def _reason(facet: SideBySide, obs: Observation) -> str:
    whose = RECORDS_OF.get(facet.name, facet.name)
    said = (f"the events say {facet.events}, {whose} says {facet.records}"
            if facet.events != facet.records else f"{whose} says {facet.records}")
    detail = _detail(facet.name, obs)
    return f"{said}; wanted {facet.desired}" + (f" ({detail})" if detail else "")


def _detail(name: str, obs: Observation) -> str:
    if name == "shipment":
        live = obs.live_bookings
        if not live and obs.bookings:
            cancelled = ", ".join(b.shipment_id for b in obs.bookings)
            return f"the carrier cancelled {cancelled}"
        if len(live) > 1:
            return "the carrier holds live bookings " + ", ".join(b.shipment_id for b in live)
    if name == "payment" and obs.money is not None:
        return (f"charged {obs.money.charged:.2f} in {len(obs.money.charges)} charge(s), "
                f"refunded {obs.money.refunded:.2f}")
    if name == "stock" and obs.reservation is not None:
        return f"reservation {obs.reservation.status}"
    return ""
