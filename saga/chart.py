"""The convergence picture: sagas by state and the total gap over time, as an inline SVG.

Only numbers and fixed labels go into the markup, so it is safe to render as is.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from saga.models import ConvergenceSample

WIDTH, HEIGHT, PAD = 760, 260, 40
SERIES = [  # (field, label, colour)
    ("running", "running", "#2a7ab0"),
    ("compensating", "compensating", "#c77c02"),
    ("needs_attention", "needs attention", "#c0392b"),
    ("converged", "converged", "#27ae60"),
    ("total_gap", "total gap", "#6c3483"),
]


def convergence_svg(samples: Sequence[ConvergenceSample]) -> SafeString:
    """Samples oldest first; one line per series, a shared vertical scale."""
    if len(samples) < 2:
        return mark_safe('<p class="help">Not enough samples yet: one is taken every '
                         "minute.</p>")
    top = max(max(getattr(s, f) for s in samples) for f, _, _ in SERIES) or 1
    start = samples[0].taken_at.timestamp()
    span = (samples[-1].taken_at.timestamp() - start) or 1
    plot_w, plot_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def point(sample: ConvergenceSample, value: int) -> str:
        x = PAD + plot_w * (sample.taken_at.timestamp() - start) / span
        y = PAD + plot_h * (1 - value / top)
        return f"{x:.1f},{y:.1f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="sagas by state and '
             'total gap over time" style="background:#fff;border:1px solid #ddd">',
             f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
             'stroke="#999"/>',
             f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>',
             f'<text x="{PAD - 6}" y="{PAD + 4}" text-anchor="end" font-size="11">{top}</text>',
             f'<text x="{PAD - 6}" y="{HEIGHT - PAD + 4}" text-anchor="end" '
             'font-size="11">0</text>',
             f'<text x="{PAD}" y="{HEIGHT - PAD + 18}" font-size="11">'
             f'{escape(samples[0].taken_at.strftime("%Y-%m-%d %H:%M"))}</text>',
             f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 18}" text-anchor="end" font-size="11">'
             f'{escape(samples[-1].taken_at.strftime("%Y-%m-%d %H:%M"))}</text>']
    for i, (field, label, colour) in enumerate(SERIES):
        points = " ".join(point(s, getattr(s, field)) for s in samples)
        dash = ' stroke-dasharray="5,3"' if field == "total_gap" else ""
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} '
                     f'points="{points}"/>')
        x = PAD + 10 + i * 135
        parts.append(f'<rect x="{x}" y="10" width="12" height="4" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="16" font-size="11">{label}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # numbers and fixed labels only
