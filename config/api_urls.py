"""The REST surface: each context contributes its own routes."""

from django.urls import include, path

urlpatterns: list = [
]
