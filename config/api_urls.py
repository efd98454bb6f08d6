"""The REST surface: each context contributes its own routes."""

from django.urls import include, path

from config.auth_api import AuthToken

urlpatterns: list = [
    path("auth/token/", AuthToken.as_view(), name="auth-token"),
    path("", include("orders.urls")),
    path("", include("inventory.urls")),
    path("", include("saga.urls")),
]
