"""The convergence picture over time, as an inline SVG.

Counts that share a size (sagas in flight, sagas needing attention, the total gap) are drawn
against the left scale; converged sagas pile up without bound, so they are drawn as a rate
(converged per minute, between two samples) against a right scale of their own, where they
would otherwise flatten every other line. Only numbers and fixed labels go into the markup,
so it is safe to render as is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from saga.models import ConvergenceSample

WIDTH, HEIGHT, PAD = 800, 280, 50
LEFT = [  # (label, colour, value of a sample)
    ("in flight", "#2a7ab0", lambda s: s.running + s.compensating),
    ("needs attention", "#c0392b", lambda s: s.needs_attention),
    ("total gap", "#6c3483", lambda s: s.total_gap),
]
RATE_LABEL, RATE_COLOUR = "converged / min (right scale)", "#27ae60"


def converged_per_minute(samples: Sequence[ConvergenceSample]) -> list[float]:
    """Sagas that converged between each sample and the one before, per minute (never below
    zero: archiving converged sagas lowers the count without anything un-converging)."""
    rates = [0.0]
    for before, after in pairwise(samples):
        minutes = (after.taken_at - before.taken_at).total_seconds() / 60 or 1
        rates.append(max(0.0, (after.converged - before.converged) / minutes))
    return rates


def _nice_top(value: float) -> float:
    return max(1.0, float(value))


def _label(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def convergence_svg(samples: Sequence[ConvergenceSample]) -> SafeString:
    """Samples oldest first; the left scale for the counts, the right one for the rate."""
    if len(samples) < 2:
        return mark_safe('<p class="help">Not enough samples yet: one is taken every '
                         "10 seconds.</p>")
    rates = converged_per_minute(samples)
    left_top = _nice_top(max(value(s) for s in samples for _, _, value in LEFT))
    right_top = _nice_top(max(rates))
    start = samples[0].taken_at.timestamp()
    span = (samples[-1].taken_at.timestamp() - start) or 1
    plot_w, plot_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    bottom, right = HEIGHT - PAD, WIDTH - PAD

    def line(name: str, values: Sequence[float], top: float, colour: str,
             extra: str = "") -> str:
        points = " ".join(
            f"{PAD + plot_w * (s.taken_at.timestamp() - start) / span:.1f},"
            f"{PAD + plot_h * (1 - v / top):.1f}" for s, v in zip(samples, values, strict=True))
        return (f'<polyline data-series="{name}" fill="none" stroke="{colour}" '
                f'stroke-width="2"{extra} points="{points}"/>')

    def axis(name: str, x: int, top: float, anchor: str, dx: int, colour: str) -> str:
        ticks = "".join(
            f'<text x="{x + dx}" y="{PAD + plot_h * (1 - f) + 4:.1f}" text-anchor="{anchor}" '
            f'font-size="11" fill="{colour}">{_label(top * f)}</text>'
            for f in (0, 0.5, 1))
        return (f'<g data-axis="{name}" data-top="{_label(top)}">'
                f'<line x1="{x}" y1="{PAD}" x2="{x}" y2="{bottom}" stroke="{colour}"/>'
                f"{ticks}</g>")

    def stamp(at: Callable[[], str], x: int, anchor: str) -> str:
        return (f'<text x="{x}" y="{bottom + 18}" text-anchor="{anchor}" font-size="11">'
                f"{escape(at())}</text>")

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="sagas in flight, needing '
             'attention, total gap and converged per minute over time" '
             'style="background:#fff;border:1px solid #ddd">',
             f'<line x1="{PAD}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#999"/>',
             axis("left", PAD, left_top, "end", -6, "#333"),
             axis("right", right, right_top, "start", 6, RATE_COLOUR),
             stamp(lambda: samples[0].taken_at.strftime("%Y-%m-%d %H:%M:%S"), PAD, "start"),
             stamp(lambda: samples[-1].taken_at.strftime("%Y-%m-%d %H:%M:%S"), right, "end")]
    for i, (label, colour, value) in enumerate(LEFT):
        dash = ' stroke-dasharray="5,3"' if label == "total gap" else ""
        parts.append(line(label, [value(s) for s in samples], left_top, colour, dash))
        parts.append(_legend(i, label, colour))
    parts.append(line("converged per minute", rates, right_top, RATE_COLOUR,
                      ' stroke-opacity="0.8"'))
    parts.append(_legend(len(LEFT), RATE_LABEL, RATE_COLOUR))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # numbers and fixed labels only


def _legend(i: int, label: str, colour: str) -> str:
    x = PAD + i * 150
    return (f'<rect x="{x}" y="14" width="12" height="4" fill="{colour}"/>'
            f'<text x="{x + 16}" y="20" font-size="11">{label}</text>')
