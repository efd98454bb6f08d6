"""API tokens (django-rest-knox): stored as digests only, expiring after API_TOKEN_TTL_HOURS,
revoked all at once when the password changes; the token admin shows no key, and only a
superuser mints one for someone else (its key shown once)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.tokens import issue_token

pytestmark = pytest.mark.django_db


def api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def alice() -> Any:
    return get_user_model().objects.create_user("alice", "alice@example.com", "old-pass")


def test_only_a_digest_of_the_key_is_stored(alice):
    key = issue_token(alice)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM knox_authtoken")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert key not in stored
    assert key[:15] in stored  # the lookup prefix, and nothing more of it
    assert api(key).get("/api/products/").status_code == 200


def test_a_token_expires_after_the_configured_hours(alice, settings):
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": timedelta(hours=2)}
    key = issue_token(alice)
    token = AuthToken.objects.get(user=alice)
    assert token.expiry - token.created == pytest.approx(timedelta(hours=2),
                                                         abs=timedelta(seconds=5))
    assert api(key).get("/api/products/").status_code == 200
    AuthToken.objects.filter(pk=token.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    expired = api(key).get("/api/products/")
    assert expired.status_code == 401 and expired.json()["detail"] == "Invalid token."


def test_the_ttl_setting_comes_from_the_environment():
    from django.conf import settings

    assert settings.REST_KNOX["TOKEN_TTL"] == timedelta(hours=settings.API_TOKEN_TTL_HOURS)
    assert settings.REST_KNOX["AUTH_HEADER_PREFIX"] == "Token"


def test_a_password_change_revokes_every_token_of_the_user(alice):
    bob = get_user_model().objects.create_user("bob", "bob@example.com", "pw")
    keys = [issue_token(alice), issue_token(alice)]
    bobs = issue_token(bob)
    alice.email = "alice@example.org"
    alice.save()  # any other change keeps them
    assert all(api(key).get("/api/products/").status_code == 200 for key in keys)

    alice.set_password("new-pass")
    alice.save()

    assert [api(key).get("/api/products/").status_code for key in keys] == [401, 401]
    assert api(bobs).get("/api/products/").status_code == 200
    fresh = APIClient().post("/api/auth/token/", {"username": "alice", "password": "new-pass"},
                             format="json")
    assert api(fresh.json()["token"]).get("/api/products/").status_code == 200


def test_signing_out_revokes_only_the_token_used(alice):
    phone, laptop = issue_token(alice), issue_token(alice)
    assert api(phone).delete("/api/auth/token/").status_code == 204
    assert api(phone).get("/api/products/").status_code == 401
    assert api(laptop).get("/api/products/").status_code == 200


# --- the token admin --------------------------------------------------------------------

def admin_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def root() -> Any:
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def clerk() -> Any:
    """Staff who may view, add and delete tokens (model permissions), but is no superuser."""
    user = get_user_model().objects.create_user("clerk", "clerk@example.com", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label="knox", codename__in=["view_authtoken", "add_authtoken",
                                                      "delete_authtoken", "change_authtoken"]))
    return user


def test_the_token_admin_shows_no_key_to_anyone(root, clerk):
    key = issue_token(root)
    digest = AuthToken.objects.get(user=root).digest
    for user in (clerk, root):
        listing = admin_for(user).get("/admin/knox/authtoken/")
        page = admin_for(user).get(f"/admin/knox/authtoken/{digest}/change/")
        assert listing.status_code == 200 and page.status_code == 200
        for answer in (listing, page):
            assert key not in answer.content.decode()
            assert key[:15] in answer.content.decode()  # the prefix identifies it


def test_only_a_superuser_mints_a_token_for_someone_else(root, clerk, alice):
    assert admin_for(clerk).get("/admin/knox/authtoken/add/").status_code == 403
    assert admin_for(clerk).post("/admin/knox/authtoken/add/",
                                 {"user": alice.pk}).status_code == 403
    assert not AuthToken.objects.filter(user=alice).exists()

    minted = admin_for(root).post("/admin/knox/authtoken/add/", {"user": alice.pk},
                                  follow=True)

    assert minted.status_code == 200
    [message] = [str(m) for m in minted.context["messages"] if "shown once" in str(m)]
    key = message.split(": ", 1)[1].split()[0]
    assert api(key).get("/api/orders/").status_code == 200
    assert AuthToken.objects.get(user=alice).token_key == key[:15]


def test_staff_revoke_a_token_in_the_admin(root, clerk):
    key = issue_token(root)
    digest = AuthToken.objects.get(user=root).digest
    answer = admin_for(clerk).post(f"/admin/knox/authtoken/{digest}/delete/", {"post": "yes"})
    assert answer.status_code == 302
    assert api(key).get("/api/products/").status_code == 401
