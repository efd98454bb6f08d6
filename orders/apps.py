from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from orders import handlers, projections, tasks, upcasters  # noqa: F401  (register them)
        from outbox.schedules import periodic

        periodic("orders: forget old idempotency keys", "orders.forget_idempotency_keys", 3600)
