from django.apps import AppConfig
from django.conf import settings


class SagaConfig(AppConfig):
    name = "saga"
    verbose_name = "Sagas and reconciliation"

    def ready(self) -> None:
        from outbox.schedules import periodic
        from saga import projection, tasks  # noqa: F401  (projectors and Celery tasks)

        periodic("saga: reconcile drifted sagas", "saga.reconcile",
                 settings.SAGA_RECONCILE_INTERVAL_SECONDS)
        periodic("saga: verify converged sagas", "saga.verify",
                 settings.SAGA_VERIFY_INTERVAL_SECONDS)
        periodic("saga: sample convergence", "saga.sample_convergence",
                 settings.SAGA_SAMPLE_INTERVAL_SECONDS)
