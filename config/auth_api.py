"""`/api/auth/token/`: trade a username and password for an API token, or revoke your own.

Each sign-in issues a new token (django-rest-knox: only its digest is stored), valid for
`API_TOKEN_TTL_HOURS` or until the password changes. Obtaining is throttled per client address
(`AUTH_THROTTLE_RATE`) and per account (`AUTH_ACCOUNT_THROTTLE_RATE`), failed and successful
attempts alike (accounts/throttles.py). Revoking deletes the token that authenticates the
request: from then on it is refused (401).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from knox.auth import TokenAuthentication
from rest_framework import serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from accounts.throttles import AccountSignInRateThrottle, SignInRateThrottle
from accounts.tokens import issue_token
from config.api_errors import error_response, field_errors


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
        if self.request.method != "POST":
            return []
        return [SignInRateThrottle(), AccountSignInRateThrottle()]

    def perform_authentication(self, request: Request) -> None:
        if request.method == "POST":
            request.authenticators = ()  # a stale Authorization header must not block sign-in
        super().perform_authentication(request)

    @extend_schema(
        summary="Sign in: your API token",
        description="Returns a new token, valid for `API_TOKEN_TTL_HOURS` (default 24) or "
        "until it is revoked or the password changes. Attempts are limited per client address "
        "(`AUTH_THROTTLE_RATE`, default 10/minute) and per account "
        "(`AUTH_ACCOUNT_THROTTLE_RATE`, default 20/hour).",
        request=Credentials,
        auth=[],
        responses={
            200: ISSUED,
            400: field_errors("Wrong credentials or invalid fields (`invalid`).", {
                "non_field_errors": ["Unable to log in with provided credentials."]}),
            **error_response(411, 413, 415, 429),
        },
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        credentials = Credentials(data=request.data, context={"request": request})
        credentials.is_valid(raise_exception=True)
        return Response({"token": issue_token(credentials.validated_data["user"])})

    @extend_schema(
        summary="Revoke your API token",
        description="The token that authenticates this request stops working at once (401).",
        request=None,
        responses={204: None, **error_response(401)},
        tags=["auth"],
    )
    def delete(self, request: Request) -> Response:
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
