"""Periodic housekeeping of the orders context."""

from celery import shared_task

from orders import services


@shared_task(name="orders.forget_idempotency_keys", ignore_result=True)
def forget_idempotency_keys() -> int:
    return services.forget_idempotency_keys()
