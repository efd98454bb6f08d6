"""The REST surface: each bounded context with a `urls` module contributes its routes
(`settings.BOUNDED_CONTEXTS`), then the saga's."""

from importlib.util import find_spec

from django.conf import settings
from django.urls import URLPattern, URLResolver, include, path

from config.auth_api import AuthToken


def context_routes() -> list[URLResolver]:
    return [path("", include(f"{context}.urls")) for context in settings.BOUNDED_CONTEXTS
            if find_spec(f"{context}.urls") is not None]


urlpatterns: list[URLPattern | URLResolver] = [
    path("auth/token/", AuthToken.as_view(), name="auth-token"),
    *context_routes(),
    path("", include("saga.urls")),
]
