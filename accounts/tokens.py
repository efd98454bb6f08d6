"""API tokens: django-rest-knox's, stored as a SHA-512 digest with a 15-character lookup
prefix, never the key; each expires after `API_TOKEN_TTL_HOURS`. The key exists in clear only
in the answer that issues it."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from knox.models import AuthToken


def mint_token(user: AbstractBaseUser) -> tuple[AuthToken, str]:
    """A new token for `user` (expiring after the configured TTL): its record and its key."""
    return AuthToken.objects.create(user=user)


def issue_token(user: AbstractBaseUser) -> str:
    """A new token for `user`; returns its key."""
    return mint_token(user)[1]


def revoke_tokens(user: AbstractBaseUser) -> int:
    """Revoke every token of `user`; returns how many."""
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted
