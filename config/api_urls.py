"""The REST surface: each context contributes its own routes."""

from django.urls import include, path

urlpatterns: list = [
    path("", include("orders.urls")),
    path("", include("inventory.urls")),
    path("", include("saga.urls")),
]
