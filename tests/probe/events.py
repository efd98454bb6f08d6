from dataclasses import dataclass

from outbox.contracts import event


@event("probe.Pinged", version=2)
@dataclass(frozen=True)
class Pinged:
    """`key` names the effect; `sleep` makes the handler slow (for kill and hang tests);
    `crash` makes it kill its own worker process (a poison delivery)."""

    key: str
    sleep: float = 0.0
    note: str = ""
    crash: bool = False


@event("probe.Ponged", version=1, terminal=True)
@dataclass(frozen=True)
class Ponged:
    key: str


@event("probe.Counted", version=1, terminal=True)
@dataclass(frozen=True)
class Counted:
    """The probe counter's one fact (for the aggregate-repository tests)."""

    amount: int
