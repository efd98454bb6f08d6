"""The REST surface: each bounded context with a `urls` module contributes its routes
(`settings.BOUNDED_CONTEXTS`), then the saga's.

The order's `saga` block is composed here: the orders API offers a hook for it (orders may not
import the saga) and the saga may see orders only through its events and selectors, so the
project, which knows both, plugs the saga's block into the orders API.
"""

from importlib.util import find_spec

from django.conf import settings
from django.urls import URLPattern, URLResolver, include, path

from config.auth_api import AuthToken
from orders.serializers import provide_saga_block
from saga.serializers import saga_block

provide_saga_block(lambda view: saga_block(view.id))


def context_routes() -> list[URLResolver]:
    return [path("", include(f"{context}.urls")) for context in settings.BOUNDED_CONTEXTS
            if find_spec(f"{context}.urls") is not None]


urlpatterns: list[URLPattern | URLResolver] = [
    path("auth/token/", AuthToken.as_view(), name="auth-token"),
    *context_routes(),
    path("", include("saga.urls")),
]
