"""Inventory's periodic job: holds expire (the semantic lock's timeout)."""

from celery import shared_task
from django.conf import settings

from inventory import services

# Batches one run may take, so a run stays short even after a long outage; the rest is the
# next run's.
MAX_BATCHES_PER_RUN = 10


@shared_task(name="inventory.expire_holds", ignore_result=True)
def expire_holds() -> int:
    """Expire the holds past their time, a batch (one transaction) at a time; returns how
    many expired."""
    expired = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        done = len(services.expire_holds())
        expired += done
        if done < settings.INVENTORY_EXPIRY_BATCH:
            break
    return expired
