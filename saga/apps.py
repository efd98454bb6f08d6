from django.apps import AppConfig


class SagaConfig(AppConfig):
    name = "saga"
    verbose_name = "Sagas and reconciliation"

    def ready(self) -> None:
        from orders.serializers import provide_saga_block
        from saga import projections, tasks  # noqa: F401  (projectors and Celery tasks)
        from saga.serializers import saga_block

        # The orders API may not import the saga; it asks this for an order's `saga` block.
        provide_saga_block(lambda view: saga_block(view.id))
