"""The token admin shows who holds which token and until when, never a key: the list and the
page hold the lookup prefix and dates only. Revoking is deleting; only a superuser mints a
token for someone else, and sees its key once, in the message after minting."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from knox.models import AuthToken

from accounts.tokens import mint_token

if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)  # knox's own shows digests and lets any adder mint


class MintTokenForm(forms.ModelForm):
    class Meta:
        model = AuthToken
        fields = ["user"]


@admin.register(AuthToken)
class TokenAdmin(admin.ModelAdmin):
    list_display = ["token_key", "user", "created", "expiry"]
    list_select_related = ["user"]
    search_fields = ["=token_key", "user__username"]
    fields = ["token_key", "user", "created", "expiry"]
    readonly_fields = ["token_key", "user", "created", "expiry"]
    raw_id_fields = ["user"]
    date_hierarchy = "created"

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False,
                 **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = MintTokenForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["user"] if obj is None else self.fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if obj is None else self.readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: AuthToken, form: Any, change: bool) -> None:
        minted, key = mint_token(obj.user)
        obj.digest, obj.token_key = minted.digest, minted.token_key
        obj.created, obj.expiry = minted.created, minted.expiry
        obj._state.adding, obj._state.db = False, minted._state.db
        self.message_user(request, f"Token for {obj.user}: {key} (shown once; only its "
                          "prefix is kept)", messages.WARNING)
