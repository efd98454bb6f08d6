"""What an operator sees and does: the event and delivery admin pages, the replay action,
and `manage.py deadletters`."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from outbox import store
from outbox.models import Delivery, Event
from tests.probe.events import Counted, Pinged

pytestmark = pytest.mark.django_db

QUEUE = "outbox"
ERROR = "Traceback (most recent call last):\n  ...\nRuntimeError: the gateway is down"


def dead_ping(key: str, *, age: timedelta = timedelta(0)) -> Delivery:
    with transaction.atomic():
        [row] = store.append("probe", key, 0, [Pinged(key=key)], correlation_id=f"corr-{key}")
    delivery = Delivery.objects.get(event=row)
    Delivery.objects.filter(id=delivery.id).update(
        status="dead", attempts=8, last_error=ERROR, created_at=timezone.now() - age)
    return delivery


def sent_delivery_ids(broker) -> list[list[int]]:
    """The delivery ids of every task message waiting in the broker."""
    sent = []
    for raw in broker.lrange(QUEUE, 0, -1):
        args, _kwargs, _embed = json.loads(base64.b64decode(json.loads(raw)["body"]))
        sent.append(args[0])
    return sent


def test_the_event_and_delivery_admin_pages_render_for_a_superuser(admin_client):
    delivery = dead_ping("shown")
    event = delivery.event

    pages = {
        reverse("admin:outbox_event_changelist"): ["probe.Pinged", "corr-shown"],
        reverse("admin:outbox_event_changelist") + "?q=corr-shown": ["probe.Pinged"],
        reverse("admin:outbox_event_change", args=[event.id]): ["&quot;key&quot;: &quot;shown",
                                                                 "probe.record_ping"],
        reverse("admin:outbox_delivery_changelist") + "?status__exact=dead": ["probe.record_ping",
                                                                              "dead"],
        reverse("admin:outbox_delivery_change", args=[delivery.id]): [
            "RuntimeError: the gateway is down", "&quot;key&quot;: &quot;shown",
            reverse("admin:outbox_event_change", args=[event.id])],
    }
    for url, expected in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for text in expected:
            assert text in body, f"{text!r} not on {url}"


def test_events_cannot_be_added_changed_or_deleted_in_the_admin(admin_client):
    event = dead_ping("fixed").event
    assert admin_client.get(reverse("admin:outbox_event_add")).status_code == 403
    assert admin_client.post(reverse("admin:outbox_event_delete", args=[event.id])).status_code \
        == 403
    assert Event.objects.filter(id=event.id).exists()


def test_the_replay_action_sends_the_selected_dead_deliveries_again(
    admin_client, broker, django_capture_on_commit_callbacks
):
    dead = [dead_ping("a"), dead_ping("b")]
    finished = dead_ping("c")
    Delivery.objects.filter(id=finished.id).update(status="done", done_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:outbox_delivery_changelist"), {
            "action": "replay_dead",
            "_selected_action": [d.id for d in [*dead, finished]],
        }, follow=True)

    assert response.status_code == 200
    assert "2 dead deliveries sent again" in response.content.decode()
    for d in dead:
        d.refresh_from_db()
        assert (d.status, d.attempts) == ("pending", 0)
    assert Delivery.objects.get(id=finished.id).status == "done"
    assert sent_delivery_ids(broker) == [sorted(d.id for d in dead)]


def run_deadletters(*args: str) -> str:
    out = StringIO()
    call_command("deadletters", *args, stdout=out)
    return out.getvalue()


def test_deadletters_lists_dead_deliveries_by_handler_event_type_and_age(broker):
    old = dead_ping("old", age=timedelta(hours=2))
    new = dead_ping("new")
    with transaction.atomic():
        [counted] = store.append("probe.Counter", "c1", 0, [Counted(amount=1)])
    other = Delivery.objects.create(event=counted, handler="probe.tally", status="dead",
                                    attempts=1, last_error="ValueError: no",
                                    next_attempt_at=timezone.now())

    listing = run_deadletters()
    lines = listing.splitlines()
    assert lines[0].split() == ["ID", "HANDLER", "EVENT", "TYPE", "EVENT", "ATTEMPTS", "AGE",
                                "LAST", "ERROR"]
    assert [line.split()[0] for line in lines[1:4]] == [str(old.id), str(new.id), str(other.id)]
    assert "RuntimeError: the gateway is down" in lines[1]
    assert "probe/old v1" in lines[1] and " 2h " in lines[1]
    assert "3 dead deliveries." in listing

    assert f"\n{other.id} " in run_deadletters("--handler", "probe.tally")
    assert str(old.id) not in run_deadletters("--handler", "probe.tally")
    assert "1 dead deliveries." in run_deadletters("--event-type", "probe.Counted")
    aged = run_deadletters("--older-than", "3600")
    assert f"\n{old.id} " in aged and f"\n{new.id} " not in aged
    assert run_deadletters("--handler", "nobody.here").strip() == "No dead deliveries match."
    assert broker.llen(QUEUE) == 0, "listing sends nothing"


def test_deadletters_replay_sends_only_the_selection_again(
    broker, django_capture_on_commit_callbacks
):
    old = dead_ping("old", age=timedelta(hours=2))
    new = dead_ping("new")

    with django_capture_on_commit_callbacks(execute=True):
        output = run_deadletters("--older-than", "3600", "--replay")

    assert "Replayed 1 dead deliveries." in output
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, old.attempts) == ("pending", 0)
    assert new.status == "dead"
    assert sent_delivery_ids(broker) == [[old.id]]
