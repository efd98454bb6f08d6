"""The confirmation e-mail against a real (local) SMTP server: a send that times out after the
server took the message is recorded as "unknown" and never sent again; a refusal is retried;
a clean send is recorded as sent. An operator sees the outcome in the admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from orders.models import ConfirmationEmailDispatch
from outbox.models import Delivery, Event
from tests.support.delivery import deliver_pending
from tests.support.smtp import smtp_server

from .test_confirmation_email import confirmed_order

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "providers"])

HANDLER = "orders.send_confirmation_email"


@pytest.fixture
def smtp_settings(settings: Any) -> Any:
    def point_at(port: int) -> None:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 1.0

    return point_at


def dispatch_of(order_id: str) -> ConfirmationEmailDispatch | None:
    return ConfirmationEmailDispatch.objects.using("providers").filter(order_id=order_id).first()


def test_a_send_that_times_out_after_the_server_took_it_is_unknown_and_never_resent(
        place, smtp_settings):
    order_id = confirmed_order(place)
    with smtp_server("hang") as server:
        smtp_settings(server.port)
        deliver_pending(HANDLER)

        assert len(server.received) == 1  # the server has the mail ...
        note = dispatch_of(order_id)
        assert note is not None and note.outcome == "unknown"  # ... we cannot know it went
        assert "timed out" in note.failure.lower() or "timeout" in note.failure.lower()

        # Nothing sends it again: the delivery is done, and another run finds nothing due.
        assert Delivery.objects.get(handler=HANDLER).status == Delivery.Status.DONE
        Delivery.objects.filter(handler=HANDLER).update(status=Delivery.Status.PENDING)
        deliver_pending(HANDLER)
        assert len(server.received) == 1
    assert dispatch_of(order_id).outcome == "unknown"

    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    admin = Client()
    admin.force_login(root)
    listing = admin.get("/admin/orders/confirmationemaildispatch/?outcome=unknown")
    assert listing.status_code == 200
    assert order_id in listing.content.decode() and "unknown" in listing.content.decode()


def test_a_refused_send_takes_its_note_back_and_is_retried(place, smtp_settings):
    order_id = confirmed_order(place)
    with smtp_server("refuse") as server:
        smtp_settings(server.port)
        deliver_pending(HANDLER)
        assert server.received == []
    assert dispatch_of(order_id) is None
    delivery = Delivery.objects.get(handler=HANDLER)
    assert delivery.status == Delivery.Status.PENDING and delivery.attempts == 1
    assert not Event.objects.filter(event_type="orders.ConfirmationEmailSent").exists()

    with smtp_server("accept") as server:
        smtp_settings(server.port)
        deliver_pending(HANDLER)
        assert len(server.received) == 1
    assert dispatch_of(order_id).outcome == "sent"
    assert Event.objects.filter(stream_id=order_id,
                                event_type="orders.ConfirmationEmailSent").count() == 1
