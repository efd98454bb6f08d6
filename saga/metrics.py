"""`/metrics` in the Prometheus text format.

Everything about sagas, the outbox and the reconciler comes from the database, so any web
process answers for the whole system; but a scrape counts nothing: it reads the figures beat
last refreshed (saga/scrape_figures.py) and the reconciler's one row of totals. API request
counts are counted in the process that served them; with several web processes, set
`PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multiprocess mode) and they are summed across
them.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from saga import scrape_figures
from saga.models import ReconcilerStats

# Label values come from fixed sets: a client cannot add series by making up a method.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

api_requests = Counter(
    "saga_api_requests", "Requests served under /api/, by method, route and status code",
    ["method", "route", "status"],
)


class CoordinationCollector(Collector):
    """Reads the refreshed figures each time Prometheus scrapes (two primary-key look-ups)."""

    def collect(self) -> Iterator[Metric]:
        cached = scrape_figures.latest()
        if cached is not None:  # none before beat's first refresh: nothing rather than zeros
            age = max(0.0, (timezone.now() - cached.refreshed_at).total_seconds())
            yield GaugeMetricFamily("saga_metrics_age_seconds", "Seconds since the figures "
                                    "below were counted", value=age)
            yield from self._sagas(cached.figures, age)
            yield from self._outbox(cached.figures, age)
        yield from self._reconciler()

    @staticmethod
    def _sagas(figures: dict[str, Any], age: float) -> Iterator[Metric]:
        by_state = GaugeMetricFamily("saga_sagas", "Sagas by state", labels=["state"])
        for state, n in figures["sagas"].items():
            by_state.add_metric([state], n)
        yield by_state
        yield GaugeMetricFamily("saga_gap_total", "Facets differing from the desired state, "
                                "summed over all sagas", value=figures["gap_total"])
        yield GaugeMetricFamily("saga_oldest_in_flight_seconds",
                                "Age of the oldest saga not converged",
                                value=_aged(figures["oldest_in_flight_seconds"], age))
        compensations = CounterMetricFamily("saga_compensations", "Compensating steps taken, "
                                            "by kind", labels=["kind"])
        for kind, n in figures["compensations"].items():
            compensations.add_metric([kind], n)
        yield compensations
        corrections = CounterMetricFamily("saga_corrections", "Reconciler corrections, by kind "
                                          "and status", labels=["kind", "status"])
        for kind, status, n in figures["corrections"]:
            corrections.add_metric([kind, status], n)
        yield corrections

    @staticmethod
    def _outbox(figures: dict[str, Any], age: float) -> Iterator[Metric]:
        yield GaugeMetricFamily("outbox_dead_deliveries", "Deliveries that exhausted their "
                                "attempts", value=figures["dead_deliveries"])
        yield GaugeMetricFamily("outbox_pending_deliveries", "Deliveries not yet handled",
                                value=figures["pending_deliveries"])
        yield GaugeMetricFamily("outbox_oldest_pending_seconds",
                                "Age of the oldest delivery not yet handled",
                                value=_aged(figures["oldest_pending_seconds"], age))

    def _reconciler(self) -> Iterator[Metric]:
        stats = ReconcilerStats.objects.filter(id=1).first() or ReconcilerStats()
        yield CounterMetricFamily("saga_reconcile_passes", "Reconciler passes run",
                                  value=stats.passes)
        yield CounterMetricFamily("saga_reconcile_pass_seconds", "Time spent in reconciler "
                                  "passes (divide by passes for the mean)",
                                  value=stats.seconds_total)
        yield GaugeMetricFamily("saga_reconcile_last_pass_seconds",
                                "Duration of the last reconciler pass", value=stats.last_seconds)
        yield GaugeMetricFamily("saga_reconcile_last_pass_sagas",
                                "Sagas examined by the last reconciler pass",
                                value=stats.last_examined)


def _aged(seconds: float, since_counted: float) -> float:
    """An "oldest" age as of now: the one counted, plus the time since (0 stays 0: none)."""
    return seconds + since_counted if seconds else 0.0


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CoordinationCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(api_requests)
    return registry


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return True
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        response = HttpResponse("a bearer token is required\n", status=401,
                                content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


class ApiRequestMetricsMiddleware:
    """Counts every request under /api/ by method, route pattern (not the raw path, so an
    order id does not become a label) and status code."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/api/"):
            match = getattr(request, "resolver_match", None)
            route = f"/{match.route}" if match is not None else "unmatched"
            method = request.method if request.method in KNOWN_METHODS else "other"
            api_requests.labels(method, route, str(response.status_code)).inc()
        return response
