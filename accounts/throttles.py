"""Throttles of signing in, with their counters in the shared cache (Redis), so each limit
holds across every gunicorn process:

- per client address (`AUTH_THROTTLE_RATE`, `ADMIN_LOGIN_THROTTLE_RATE`): the address is
  REMOTE_ADDR, or the one `NUM_PROXIES` proxies from the right of X-Forwarded-For, so behind
  the TLS proxy each client has its own bucket and one cannot lock everyone out;
- per account (`AUTH_ACCOUNT_THROTTLE_RATE`), whatever the address: guessing one account's
  password from many addresses stops there.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        # Read at request time (not at import), so a changed setting takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class SignInRateThrottle(_SettingsRateThrottle):
    """API sign-in attempts per client address, whoever they claim to be."""

    scope = "auth_token"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AccountSignInRateThrottle(_SettingsRateThrottle):
    """API sign-in attempts per account (the username, case-folded), from any address."""

    scope = "auth_account"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        data = request.data
        username = data.get("username") if isinstance(data, dict) else None
        if not isinstance(username, str) or not username:
            return None  # nothing to count against: the serializer refuses it
        # Hashed: a username may hold any character, a cache key may not.
        account = hashlib.sha256(username.casefold().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": account}


class AdminLoginRateThrottle(_SettingsRateThrottle):
    """POSTs to the admin's login form per client address."""

    scope = "admin_login"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def throttled_admin_login(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """The admin's login page, with its POSTs throttled per client address."""
    if request.method == "POST":
        throttle = AdminLoginRateThrottle()
        if not throttle.allow_request(request, None):
            wait = throttle.wait()
            response = HttpResponse("Too many sign-in attempts; try again later.\n",
                                    status=429, content_type="text/plain")
            if wait is not None:
                response["Retry-After"] = str(max(1, round(wait)))
            return response
    return admin.site.login(request, **kwargs)
