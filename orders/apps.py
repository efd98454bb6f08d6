from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from orders import (  # noqa: F401  (register them)
            checks,
            handlers,
            projections,
            tasks,
            upcasters,
        )

