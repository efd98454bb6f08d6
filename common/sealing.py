"""Sealing secrets that must travel in events (a customer's payment token) so the event store,
the admin and every log line hold only ciphertext.

A sealed value is a Fernet token (AES-128-CBC with HMAC-SHA256, from the `cryptography`
package): authenticated, so a tampered value is refused, and randomised, so two seals of one
token differ and nothing can be matched across orders. The key comes from `PAYMENT_TOKEN_KEY`
(comma-separated Fernet keys: the first seals, every one opens, which is how a key is rotated);
when unset it is derived with HKDF from `SECRET_KEY` (which seals) and from each of
`SECRET_KEY_FALLBACKS` (which still open), so web and workers, which share the secret, share the
key with nothing more to configure, and rotating the secret the Django way leaves the tokens of
orders in flight readable.

The empty string stands for "no token given" (the gateway's default) and is left as it is.
It is infrastructure: any context may seal; only the one that pays a provider opens.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_DERIVATION_LABEL = b"saga-backend payment token sealing v1"


class NotSealed(ValueError):
    """The value is not one this deployment sealed (clear text, tampered, or another key)."""


def _derived_key(secret_key: str) -> str:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=_DERIVATION_LABEL).derive(secret_key.encode())
    return base64.urlsafe_b64encode(derived).decode()


@functools.cache
def _keyring(configured: str, secret_keys: tuple[str, ...]) -> MultiFernet:
    keys = [key.strip() for key in configured.split(",") if key.strip()]
    if not keys:
        keys = [_derived_key(secret) for secret in secret_keys]
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "PAYMENT_TOKEN_KEY must be comma-separated Fernet keys (32 url-safe base64 bytes "
            "each, e.g. from cryptography.fernet.Fernet.generate_key())") from exc


def _fernet() -> MultiFernet:
    # Settings are read on each call (tests change them); the keyring is built once per value.
    secrets = (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ()))
    return _keyring(getattr(settings, "PAYMENT_TOKEN_KEY", ""), secrets)


def seal(clear: str) -> str:
    """The ciphertext of `clear`, safe to store in an event ("" stays "")."""
    if not clear:
        return ""
    return _fernet().encrypt(clear.encode()).decode("ascii")


def unseal(sealed: str) -> str:
    """The clear value of a `seal`ed one ("" stays ""); raises `NotSealed` otherwise."""
    if not sealed:
        return ""
    try:
        return _fernet().decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise NotSealed("the value is not sealed with this deployment's key") from exc


def is_sealed(value: str) -> bool:
    try:
        unseal(value)
    except NotSealed:
        return False
    return True
