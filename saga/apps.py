from django.apps import AppConfig
from django.conf import settings


class SagaConfig(AppConfig):
    name = "saga"
    verbose_name = "Sagas and reconciliation"

    def ready(self) -> None:
        from orders.serializers import provide_saga_block
        from outbox.schedules import periodic
        from saga import projections, tasks  # noqa: F401  (projectors and Celery tasks)
        from saga.serializers import saga_block

        # The orders API may not import the saga; it asks this for an order's `saga` block.
        provide_saga_block(lambda view: saga_block(view.id))
        periodic("saga: reconcile drifted sagas", "saga.reconcile",
                 settings.SAGA_RECONCILE_INTERVAL_SECONDS)
        periodic("saga: verify converged sagas", "saga.verify",
                 settings.SAGA_VERIFY_INTERVAL_SECONDS)
        periodic("saga: sample convergence", "saga.sample_convergence",
                 settings.SAGA_SAMPLE_INTERVAL_SECONDS)
        periodic("saga: refresh metrics", "saga.refresh_metrics",
                 settings.SAGA_METRICS_REFRESH_SECONDS)
