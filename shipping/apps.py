from django.apps import AppConfig


class ShippingConfig(AppConfig):
    name = "shipping"

    def ready(self) -> None:
        from shipping import handlers, projections  # noqa: F401  (handlers and projectors)
