"""The DORA charts as inline SVG, drawn on the server: no JavaScript, no charting library. Pure.

Every text that goes into the SVG is escaped here (labels are the only strings; the rest are numbers).
"""

from __future__ import annotations

import time
from html import escape

from markupsafe import Markup

from shiplane.dashboard.views import Week, age

GOOD, BAD = ("deployed", "superseded"), ("failed", "rolled-back")

WIDTH, HEIGHT, PAD = 560, 160, 28
COLORS = {"good": "#2e7d32", "bad": "#c62828", "other": "#757575"}


def _frame(body: list[str], title: str) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    )
    axis = f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - 4}" y2="{HEIGHT - PAD}" stroke="#999"/>'
    return Markup(head + axis + "".join(body) + "</svg>")


def weekly(weeks: list[Week]) -> Markup:
    """Stacked bars per week: successful changes (green) under failed ones (red)."""
    top = max([w.good + w.bad for w in weeks] + [1])
    span = (WIDTH - PAD - 4) / max(1, len(weeks))
    scale = (HEIGHT - 2 * PAD) / top
    body = [
        f'<text x="2" y="{PAD}" font-size="10">{top}</text>',
        f'<text x="2" y="{HEIGHT - PAD}" font-size="10">0</text>',
    ]
    for i, w in enumerate(weeks):
        x = PAD + i * span + 2
        base = HEIGHT - PAD
        for count, color, what in ((w.good, COLORS["good"], "ok"), (w.bad, COLORS["bad"], "failed")):
            if count:
                h = count * scale
                base -= h
                label = f"week of {time.strftime('%Y-%m-%d', time.localtime(w.start))}: {count} {what}"
                body.append(
                    f'<rect x="{x:.1f}" y="{base:.1f}" width="{span - 4:.1f}" height="{h:.1f}" fill="{color}">'
                    f"<title>{escape(label)}</title></rect>"
                )
        if i % 2 == 0:
            day = time.strftime("%m-%d", time.localtime(w.start))
            body.append(f'<text x="{x:.1f}" y="{HEIGHT - PAD + 14}" font-size="10">{day}</text>')
    return _frame(body, "Deployments per week (green: succeeded, red: failed)")


def points(values: list[tuple[int, float, str]], title: str) -> Markup:
    """One dot per release (x: in order, y: seconds), coloured by outcome; the y axis labelled in time."""
    if not values:
        return _frame([f'<text x="{PAD}" y="{HEIGHT / 2}" font-size="12">no data yet</text>'], title)
    top = max(v for _, v, _ in values) or 1.0
    span = (WIDTH - PAD - 12) / max(1, len(values) - 1)
    scale = (HEIGHT - 2 * PAD) / top
    body = [
        f'<text x="2" y="{PAD}" font-size="10">{escape(age(top))}</text>',
        f'<text x="2" y="{HEIGHT - PAD}" font-size="10">0</text>',
    ]
    coords = []
    for i, (revision, seconds, outcome) in enumerate(values):
        x, y = PAD + 6 + i * span, HEIGHT - PAD - seconds * scale
        coords.append(f"{x:.1f},{y:.1f}")
        kind = (
            "good" if outcome in ("deployed", "superseded") else "bad" if outcome in ("failed", "rolled-back") else ""
        )
        color = COLORS.get(kind, COLORS["other"])
        tip = f"revision {revision}: {age(seconds)} ({outcome})"
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"><title>{escape(tip)}</title></circle>')
    body.insert(0, f'<polyline points="{" ".join(coords)}" fill="none" stroke="#bbb"/>')
    first, last = values[0][0], values[-1][0]
    body.append(f'<text x="{PAD}" y="{HEIGHT - PAD + 14}" font-size="10">r{first}</text>')
    body.append(f'<text x="{WIDTH - 40}" y="{HEIGHT - PAD + 14}" font-size="10">r{last}</text>')
    return _frame(body, title)
