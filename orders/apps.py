from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from orders import handlers, projections, tasks, upcasters  # noqa: F401  (register them)

