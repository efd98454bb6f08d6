from django.apps import AppConfig


class SagaConfig(AppConfig):
    name = "saga"
    verbose_name = "Sagas and reconciliation"

    def ready(self) -> None:
        from saga import projections, tasks  # noqa: F401  (projectors and Celery tasks)
