"""`check --deploy` refuses a production deploy that would fake the confirmation e-mail: with
DEBUG off, a backend that only prints, keeps or drops mail would record every mail as sent
(and print customers' data into the log), so one must be named explicitly."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

# Backends that deliver nothing to anyone: fine in development and tests, never in production.
NON_DELIVERING_BACKENDS = frozenset({
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
})


@register(Tags.security, deploy=True)
def check_email_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """An error when DEBUG is off and no delivering e-mail backend is configured."""
    if settings.DEBUG:
        return []
    backend = getattr(settings, "EMAIL_BACKEND", "") or ""
    if not backend:
        return [Error(
            "No e-mail backend is configured: order confirmations cannot be sent.",
            hint="Set DJANGO_EMAIL_BACKEND (e.g. django.core.mail.backends.smtp.EmailBackend) "
                 "and DJANGO_EMAIL_HOST.",
            id="orders.E001")]
    if backend in NON_DELIVERING_BACKENDS:
        return [Error(
            f"EMAIL_BACKEND is {backend}, which delivers no mail, with DEBUG off: every "
            "order confirmation would be recorded as sent.",
            hint="Set DJANGO_EMAIL_BACKEND to a delivering backend (e.g. "
                 "django.core.mail.backends.smtp.EmailBackend).",
            id="orders.E002")]
    return []
