"""Server errors are JSON with a `code`, never Django's HTML page; an unreachable database is a
503 with `Retry-After`, never a 500.

The failing views live in this module's own URLconf, beside the project's (the project has no
view that fails on purpose); the database outage is a real refused connection (a port nothing
listens on), as in test_project_health.py. tests/test_outage_database.py stops a real cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.db import OperationalError, connections
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import get_resolver, path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from config import urls as project_urls
from config.server_errors import RETRY_AFTER_SECONDS


class Bug(Exception):
    """What a bug raises."""


@api_view(["GET"])
@permission_classes([AllowAny])
def api_bug(request: Request) -> Response:
    raise Bug("a bug in an API view")


def plain_bug(request: HttpRequest) -> HttpResponse:
    raise Bug("a bug in a plain view")


handler500 = project_urls.handler500
urlpatterns = [
    path("api/test-bug/", api_bug),
    path("test-bug/", plain_bug),
    *project_urls.urlpatterns,
]

HERE = override_settings(ROOT_URLCONF=__name__)


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


def _assert_json_500(response: HttpResponse) -> None:
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content)["code"] == "server_error"
    assert "a bug" not in response.content.decode()  # no internals leak to the client


@HERE
@pytest.mark.parametrize("url", ["/api/test-bug/", "/test-bug/"])
@pytest.mark.parametrize("debug", [False, True])
def test_a_bug_in_a_view_is_a_json_500_with_a_code(client, settings, url, debug):
    settings.DEBUG = debug
    _assert_json_500(client.get(url))


def test_the_project_answers_server_errors_outside_views_in_json_too(rf):
    """Django calls handler500 (with DEBUG off) while the exception is being handled."""
    handler = get_resolver("config.urls").resolve_error_handler(500)
    request = rf.get("/anywhere")
    try:
        raise Bug("a bug in a middleware")
    except Bug:
        _assert_json_500(handler(request))
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        response = handler(request)
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)


@pytest.fixture
def database_down() -> Iterator[None]:
    """Every connection of this process points at a port nothing listens on."""
    saved = {}
    for alias in connections:
        connection = connections[alias]
        connection.close()
        saved[alias] = connection.settings_dict["PORT"]
        connection.settings_dict["PORT"] = 1
    yield
    for alias, port in saved.items():
        connections[alias].close()
        connections[alias].settings_dict["PORT"] = port


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("method", "url"), [
    ("GET", "/api/products/"), ("GET", "/api/orders/"), ("POST", "/api/orders/"),
    ("GET", "/api/sagas/"), ("GET", "/metrics"),
])
def test_an_unreachable_database_is_a_json_503_with_retry_after(client, database_down, method,
                                                               url):
    response = client.generic(method, url, b"{}", content_type="application/json",
                              HTTP_AUTHORIZATION="Token 0123456789abcdef")
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json()["code"] == "database_unavailable"
