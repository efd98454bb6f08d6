from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"

    def ready(self) -> None:
        from inventory import handlers, projections  # noqa: F401  (handlers and projectors)
