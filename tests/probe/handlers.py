import os
import signal
import time

from django.db.models import F

from outbox.delivery import PermanentError
from outbox.registry import handles
from outbox.upcasting import upcaster
from tests.probe.events import Pinged
from tests.probe.models import Breakage, Effect


@upcaster("probe.Pinged", from_version=1)
def pinged_v1_to_v2(payload: dict) -> dict:
    # v1 called the key "name".
    return {"key": payload["name"], "sleep": payload.get("sleep", 0.0)}


@handles(Pinged, name="probe.record_ping")
def record_ping(event: Pinged, envelope: object) -> None:
    broken = Breakage.objects.filter(key=event.key).first()
    if broken is not None:
        if broken.permanent:
            raise PermanentError(f"probe {event.key} refuses for good")
        raise RuntimeError(f"probe {event.key} is broken")
    Effect.objects.get_or_create(key=event.key)
    Effect.objects.filter(key=event.key).update(count=F("count") + 1)
    if event.crash:
        # As a segfault or the out-of-memory killer would: no rollback, no ack, no goodbye.
        os.kill(os.getpid(), signal.SIGKILL)
    if event.sleep:
        time.sleep(event.sleep)
