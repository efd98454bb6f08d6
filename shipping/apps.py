from django.apps import AppConfig


class ShippingConfig(AppConfig):
    name = "shipping"

    def ready(self) -> None:
        from shipping import handlers  # noqa: F401  (registers the handlers)
