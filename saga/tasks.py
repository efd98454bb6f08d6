"""The saga's periodic jobs (scheduled by beat, see SagaConfig.ready)."""

from __future__ import annotations

from celery import shared_task

from saga import convergence, reconciler, retention, scrape_figures


@shared_task(name="saga.reconcile", ignore_result=True)
def reconcile() -> int:
    """One reconciler pass over the due sagas; returns the actions taken."""
    return len(reconciler.run_pass().actions)


@shared_task(name="saga.verify", ignore_result=True)
def verify() -> int:
    """Re-check a page of converged sagas; returns how many were reopened."""
    return len(reconciler.verify_converged())


@shared_task(name="saga.sample_convergence", ignore_result=True)
def sample_convergence() -> None:
    convergence.take_sample()


@shared_task(name="saga.refresh_metrics", ignore_result=True)
def refresh_metrics() -> None:
    """Count what /metrics shows, so a scrape counts nothing."""
    scrape_figures.refresh()


@shared_task(name="saga.archive_actions", ignore_result=True)
def archive_actions() -> int:
    """Move decided reconciliation actions past retention to the archive."""
    return retention.archive_actions()
