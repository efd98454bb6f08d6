"""`/api/auth/token/`: trade a username and password for an API token, or revoke your own.

Obtaining is throttled per client address (`AUTH_THROTTLE_RATE`), failed and successful
attempts alike, with the counters in the shared cache (Redis), so the limit holds across every
gunicorn process. Revoking deletes the caller's token: from then on it is refused (401), and
the next sign-in issues a new one.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle
from rest_framework.views import APIView

from config.api_errors import error_response


class SignInRateThrottle(SimpleRateThrottle):
    """Sign-in attempts per client address, whoever they claim to be."""

    scope = "auth_token"

    def get_rate(self) -> str | None:
        # Read at request time (not at import), so a changed setting takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class Credentials(AuthTokenSerializer):
    """Username and password, strictly strings (DRF's own coerces numbers)."""

    username = serializers.CharField(max_length=150, write_only=True)
    password = serializers.CharField(max_length=4096, write_only=True, trim_whitespace=False,
                                     style={"input_type": "password"})

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            wrong = {name: ["A string is required."] for name in ("username", "password")
                     if name in data and not isinstance(data[name], str)}
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)


ISSUED = inline_serializer("IssuedToken", fields={"token": serializers.CharField()})


class AuthToken(APIView):
    # Only the token proves who revokes; signing in needs no credentials but the password.
    authentication_classes = [TokenAuthentication]

    def get_permissions(self) -> list[BasePermission]:
        return [AllowAny() if self.request.method == "POST" else IsAuthenticated()]

    def get_throttles(self) -> list[BaseThrottle]:
        return [SignInRateThrottle()] if self.request.method == "POST" else []

    def perform_authentication(self, request: Request) -> None:
        if request.method == "POST":
            request.authenticators = ()  # a stale Authorization header must not block sign-in
        super().perform_authentication(request)

    @extend_schema(
        summary="Sign in: your API token",
        description="Returns the user's token (the same one until it is revoked). Attempts "
        "are limited per client address (`AUTH_THROTTLE_RATE`, default 10/minute).",
        request=Credentials,
        auth=[],
        responses={
            200: ISSUED,
            400: OpenApiResponse(
                description="Wrong credentials or invalid fields: `{field: [messages]}`.",
                examples=[OpenApiExample("wrong password", value={
                    "non_field_errors": ["Unable to log in with provided credentials."]})]),
            **error_response(411, 413, 415, 429),
        },
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        credentials = Credentials(data=request.data, context={"request": request})
        credentials.is_valid(raise_exception=True)
        token, _ = Token.objects.get_or_create(user=credentials.validated_data["user"])
        return Response({"token": token.key})

    @extend_schema(
        summary="Revoke your API token",
        description="The token that authenticates this request stops working at once (401).",
        request=None,
        responses={204: None, **error_response(401)},
        tags=["auth"],
    )
    def delete(self, request: Request) -> Response:
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
