"""A scrape of /metrics counts nothing: it reads the figures beat refreshed (one row) and the
reconciler's totals (one row), whatever the size of the tables behind them."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from saga.models import OrderSaga, ScrapeFigures
from saga.tasks import refresh_metrics

pytestmark = pytest.mark.django_db

# The only tables a scrape may read, each by primary key.
SCRAPE_TABLES = {ScrapeFigures._meta.db_table, "saga_reconcilerstats"}


def _scrape() -> dict[str, float]:
    text = Client().get("/metrics").content.decode()
    return {f"{sample.name}{sorted(sample.labels.items())}": sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def _needs_attention(scraped: dict[str, float]) -> float:
    return scraped["saga_sagas[('state', 'needs_attention')]"]


def test_a_scrape_reads_two_rows_and_counts_no_table():
    OrderSaga.objects.create(order_id="o-1", state=OrderSaga.State.NEEDS_ATTENTION, gap=2)
    refresh_metrics()
    with CaptureQueriesContext(connection) as queries:
        scraped = _scrape()
    assert _needs_attention(scraped) == 1
    assert len(queries) <= 2, [query["sql"] for query in queries]
    for query in queries:
        sql = query["sql"].lower()
        assert "count(" not in sql and "min(" not in sql and "sum(" not in sql, sql
        tables = {name for name in SCRAPE_TABLES if name in sql}
        assert tables, sql


def test_the_scrape_shows_what_beat_last_counted_until_the_next_refresh():
    refresh_metrics()
    assert _needs_attention(_scrape()) == 0
    OrderSaga.objects.create(order_id="o-2", state=OrderSaga.State.NEEDS_ATTENTION, gap=1)
    assert _needs_attention(_scrape()) == 0  # not counted by the scrape
    refresh_metrics()
    scraped = _scrape()
    assert _needs_attention(scraped) == 1
    assert scraped["saga_gap_total[]"] == 1
    assert scraped["saga_metrics_age_seconds[]"] >= 0


def test_beat_refreshes_the_figures():
    assert "saga.refresh_metrics" in {job["task"] for job in settings.CELERY_BEAT_SCHEDULE.values()}
