"""GET /healthz: 200 only when the database and the broker both answer, else 503 naming which."""

import pytest
from django.db import connection
from django.test import override_settings

CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.mark.django_db
def test_healthz_is_200_when_the_database_and_the_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_healthz_is_503_naming_the_broker_when_it_does_not_answer(client):
    with override_settings(CELERY_BROKER_URL=CLOSED_PORT_BROKER):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert set(body["failed"]) == {"broker"}
    assert "onnect" in body["failed"]["broker"]  # the reason, e.g. "ConnectionError: ..."


@pytest.mark.django_db(transaction=True)
def test_healthz_is_503_naming_the_database_when_it_does_not_answer(client):
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = 1  # a real refused connection, not a stand-in
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port
    assert response.status_code == 503
    assert set(response.json()["failed"]) == {"database"}


def test_healthz_answers_only_get(client):
    assert client.post("/healthz").status_code == 405
