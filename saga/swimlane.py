"""One saga's timeline as a swimlane: a lane per participant, a labelled mark per event at its
time, and the reconciler's acts in a lane of their own. Inline SVG; every text is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

LANES = ["orders", "inventory", "payments", "shipping", "reconciler"]
# The reconciler's commands are written on the saga's own streams.
LANE_OF_SOURCE = {"saga": "reconciler"}
WIDTH, LANE_H, LABEL_W, PAD = 1000, 56, 90, 30
COLOURS = {"orders": "#2a7ab0", "inventory": "#c77c02", "payments": "#27ae60",
           "shipping": "#6c3483", "reconciler": "#c0392b"}
FAILURE_WORDS = ("Failed", "Declined", "Rejected", "Cancelled", "Expired", "Refund")


def lane_of(source: str) -> str:
    return LANE_OF_SOURCE.get(source, source)


def swimlane_svg(marks: Sequence[dict[str, Any]]) -> SafeString:
    """marks: {"at": datetime, "lane" or "source": str, "label": str}, in any order."""
    if not marks:
        return mark_safe('<p class="help">No events recorded for this saga yet.</p>')
    rows = sorted(({**m, "lane": m.get("lane") or lane_of(m["source"])} for m in marks),
                  key=lambda m: m["at"])
    lanes = LANES + sorted({m["lane"] for m in rows} - set(LANES))
    start: datetime = rows[0]["at"]
    span = (rows[-1]["at"] - start).total_seconds() or 1.0
    plot_w = WIDTH - LABEL_W - 2 * PAD
    height = PAD + LANE_H * len(lanes) + PAD
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="the saga\'s events by '
             'participant over time" style="background:#fff;border:1px solid #ddd">']
    for i, lane in enumerate(lanes):
        y = PAD + LANE_H * i
        parts.append(f'<g data-lane-row="{escape(lane)}">'
                     f'<rect x="0" y="{y}" width="{WIDTH}" height="{LANE_H}" '
                     f'fill="{"#f7f7f7" if i % 2 else "#fff"}"/>'
                     f'<text x="8" y="{y + LANE_H / 2 + 4:.0f}" font-size="12" '
                     f'font-weight="bold">{escape(lane)}</text>'
                     f'<line x1="{LABEL_W + PAD}" y1="{y + LANE_H / 2:.0f}" x2="{WIDTH - PAD}" '
                     f'y2="{y + LANE_H / 2:.0f}" stroke="#ccc"/></g>')
    for n, mark in enumerate(rows):
        lane = mark["lane"]
        x = LABEL_W + PAD + plot_w * (mark["at"] - start).total_seconds() / span
        y = PAD + LANE_H * lanes.index(lane) + LANE_H / 2
        label = str(mark["label"])
        bad = any(word in label for word in FAILURE_WORDS)
        colour = "#a61b0f" if bad else COLOURS.get(lane, "#555")
        text_y = y - 8 if n % 2 == 0 else y + 16  # alternate so close marks stay legible
        # Labels at either end grow inwards, so none is cut off by the picture's edge.
        anchor = ("start" if x < LABEL_W + PAD + 60 else
                  "end" if x > WIDTH - PAD - 60 else "middle")
        parts.append(
            f'<g data-lane="{escape(lane)}" data-label="{escape(label)}">'
            f"<title>{escape(label)} at {escape(mark['at'].isoformat())}</title>"
            f'<circle cx="{x:.1f}" cy="{y:.0f}" r="5" fill="{colour}"/>'
            f'<text x="{x:.1f}" y="{text_y:.0f}" font-size="10" text-anchor="{anchor}" '
            f'fill="{colour}">{escape(label.rsplit(".", 1)[-1])}</text></g>')
    parts.append(f'<text x="{LABEL_W + PAD}" y="{height - 8}" font-size="11">'
                 f'{escape(start.strftime("%H:%M:%S.%f")[:-3])}</text>'
                 f'<text x="{WIDTH - PAD}" y="{height - 8}" font-size="11" text-anchor="end">'
                 f'+{span:.3f} s</text></svg>')
    return mark_safe("".join(parts))  # every text above went through escape()
