"""Server-side SVG bar charts for the dashboard: no JavaScript, no library, nothing from the internet.
Every value and label is escaped by format_html."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 420
HEIGHT = 160
TOP = 10
BOTTOM = 22  # room for the week labels
LEFT = 8
RIGHT = 8


@dataclass(frozen=True)
class Bar:
    label: str  # shown under every third bar and in the tooltip
    value: Decimal


def bar_chart(
    title: str, bars: Sequence[Bar], unit: str = "", css_class: str = "", label_every: int = 3
) -> SafeString:
    """A bar chart as an inline <svg role="img">; each bar is a <rect class="bar"> with a <title> tooltip.
    A zero value still gets a 1px bar so an empty week is visible as such."""
    count = max(len(bars), 1)
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / count
    bar_w = max(slot * 0.7, 1)
    peak = max((b.value for b in bars), default=Decimal(0))
    rects = []
    labels = []
    for i, bar in enumerate(bars):
        h = float(bar.value / peak) * plot_h if peak > 0 else 0.0
        h = max(h, 1.0)
        x = LEFT + i * slot + (slot - bar_w) / 2
        y = TOP + plot_h - h
        tip = f"{bar.label}: {bar.value:,.2f} {unit}".strip()
        rects.append((f"{x:.1f}", f"{y:.1f}", f"{bar_w:.1f}", f"{h:.1f}", tip, f"{bar.value:.2f}"))
        if i % label_every == 0 or i == len(bars) - 1:
            labels.append((f"{x + bar_w / 2:.1f}", f"{HEIGHT - 6}", bar.label))
    body = format_html_join(
        "",
        '<rect class="bar" x="{}" y="{}" width="{}" height="{}"><title>{}</title><desc>{}</desc></rect>',
        rects,
    )
    axis = format_html_join(
        "", '<text x="{}" y="{}" text-anchor="middle" class="axis-label">{}</text>', labels
    )
    total = sum((b.value for b in bars), Decimal(0))
    summary = f"{title}: {total:,.2f} {unit}".replace("  ", " ")
    return format_html(
        '<svg class="chart {}" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="baseline"/>{}{}</svg>',
        css_class,
        summary,
        WIDTH,
        HEIGHT,
        WIDTH,
        HEIGHT,
        summary,
        LEFT,
        TOP + plot_h,
        WIDTH - RIGHT,
        TOP + plot_h,
        body,
        axis,
    )
