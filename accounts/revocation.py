"""A password change revokes every API token of the user: whoever learnt the old password (or
a token issued with it) is out the moment the password is changed, whoever changes it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import pre_save
from django.dispatch import receiver

from accounts.tokens import revoke_tokens


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.revoke_on_password")
def revoke_tokens_on_password_change(sender: Any, instance: Any, update_fields: Any = None,
                                     raw: bool = False, **kwargs: Any) -> None:
    if raw or instance.pk is None:
        return  # fixtures, and new users (who have no token yet)
    if update_fields is not None and "password" not in update_fields:
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True)
    previous = stored.first()
    if previous is not None and previous != instance.password:
        revoke_tokens(instance)
