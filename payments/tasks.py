"""The payments context's periodic job (scheduled by beat, config/settings.py)."""

from __future__ import annotations

from celery import shared_task

from payments import retention


@shared_task(name="payments.forget_gateway_calls", ignore_result=True)
def forget_gateway_calls() -> int:
    return retention.forget_gateway_calls()
