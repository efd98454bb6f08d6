"""The REST surface: each context contributes its own routes.

The order's `saga` block is composed here: the orders API offers a hook for it (orders may not
import the saga) and the saga may see orders only through its events and selectors, so the
project, which knows both, plugs the saga's block into the orders API.
"""

from django.urls import include, path

from config.auth_api import AuthToken
from orders.serializers import provide_saga_block
from saga.serializers import saga_block

provide_saga_block(lambda view: saga_block(view.id))

urlpatterns: list = [
    path("auth/token/", AuthToken.as_view(), name="auth-token"),
    path("", include("orders.urls")),
    path("", include("inventory.urls")),
    path("", include("saga.urls")),
]
