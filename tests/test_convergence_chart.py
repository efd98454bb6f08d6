"""The convergence chart and the samples it draws: counts and the converged rate on scales of
their own; samples every 10 s kept whole for a day, hourly for a week, then dropped."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from saga.chart import HEIGHT, PAD, converged_per_minute, convergence_svg
from saga.convergence import downsample
from saga.models import ConvergenceSample

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def sample(at: datetime, *, converged: int = 0, running: int = 0, attention: int = 0,
           gap: int = 0) -> ConvergenceSample:
    return ConvergenceSample(taken_at=at, converged=converged, running=running,
                             needs_attention=attention, total_gap=gap)


def test_counts_and_the_converged_rate_have_scales_of_their_own():
    # 60 sagas converge each minute and pile up to 180; never more than 7 are in flight.
    samples = [sample(T0 + timedelta(minutes=i), converged=60 * i, running=5 + (i == 2),
                      attention=2, gap=7) for i in range(4)]
    assert converged_per_minute(samples) == [0.0, 60.0, 60.0, 60.0]
    svg = str(convergence_svg(samples))
    tops = dict(re.findall(r'data-axis="(\w+)" data-top="([\d.]+)"', svg))
    assert tops == {"left": "7", "right": "60"}  # the 180 converged flatten nothing
    for label in ("in flight", "needs attention", "total gap", "converged / min"):
        assert label in svg
    heights = {name: [float(y) for y in re.findall(r",([\d.-]+)", points)] for name, points in
               re.findall(r'data-series="([\w ]+)"[^>]* points="([^"]+)"', svg)}
    assert set(heights) == {"in flight", "needs attention", "total gap", "converged per minute"}
    plot_top, plot_bottom = PAD, HEIGHT - PAD
    # The rate's line climbs to the top of its own scale and stays inside the plot.
    assert heights["converged per minute"] == [plot_bottom, plot_top, plot_top, plot_top]
    assert heights["total gap"] == [plot_top] * 4


def test_beat_samples_every_ten_seconds_by_default():
    assert settings.SAGA_SAMPLE_INTERVAL_SECONDS == 10.0
    assert settings.CELERY_BEAT_SCHEDULE["saga: sample convergence"]["schedule"] == 10.0


@pytest.mark.django_db
def test_old_samples_are_downsampled_to_one_an_hour_then_dropped():
    now = T0
    recent = [now - timedelta(seconds=10 * i) for i in range(30)]  # the last 5 minutes
    # Two hours three days ago, a sample every 10 minutes; and some from last month.
    old = [now - timedelta(days=3, minutes=10 * i) for i in range(12)]
    ancient = [now - timedelta(days=30, minutes=i) for i in range(5)]
    ConvergenceSample.objects.bulk_create(sample(at) for at in recent + old + ancient)

    downsample(now)

    kept = set(ConvergenceSample.objects.values_list("taken_at", flat=True))
    assert set(recent) <= kept
    assert not kept & set(ancient)
    kept_old = sorted(kept & set(old))
    hours = {at.replace(minute=0, second=0) for at in old}
    assert len(kept_old) == len(hours) == 3  # one per hour: the last one of it
    assert kept_old == sorted(max(at for at in old if at.replace(minute=0) == h)
                              for h in hours)
