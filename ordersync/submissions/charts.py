"""Stacked bar charts drawn as SVG on the server: no script, no CDN, CSP-safe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils import formats

# Bootstrap 5 palette, distinguishable in print and for common colour blindness.
PALETTE = ["#0d6efd", "#fd7e14", "#198754", "#6f42c1", "#dc3545", "#20c997", "#ffc107"]
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 220, 48, 24, 10


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (y, label)
    labels: list[tuple[float, str]]  # (x, day label)
    legend: list[tuple[str, str]]  # (color, counter name)
    empty: bool


def stacked_bars(
    days: list[date],
    series: dict[int, dict[date, int]],
    names: dict[int, str],
) -> Chart:
    """Return the geometry of a stacked bar chart: one bar per day, one colour per
    series."""
    totals = [sum(s.get(day, 0) for s in series.values()) for day in days]
    peak = _nice(max(totals, default=0))
    plot_h = HEIGHT - BOTTOM - TOP
    step = (WIDTH - LEFT) / max(len(days), 1)
    bar_w = step * 0.7
    colors = {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(names)}
    bars = []
    for i, day in enumerate(days):
        y = HEIGHT - BOTTOM
        for key in names:
            value = series.get(key, {}).get(day, 0)
            if not value:
                continue
            h = plot_h * value / peak
            y -= h
            label = formats.date_format(day, "SHORT_DATE_FORMAT")
            bars.append(
                Bar(
                    round(LEFT + i * step + (step - bar_w) / 2, 1),
                    round(y, 1),
                    round(bar_w, 1),
                    round(h, 1),
                    colors[key],
                    f"{label}: {names[key]} — {value}",
                )
            )
    ticks = [
        (
            round(HEIGHT - BOTTOM - plot_h * n / 4, 1),
            f"{peak * n // 4:,}".replace(",", " "),
        )
        for n in range(5)
    ]
    labels = [
        (round(LEFT + i * step + step / 2, 1), day.strftime("%d.%m"))
        for i, day in enumerate(days)
        if i % 5 == 0 or i == len(days) - 1
    ]
    legend = [(colors[key], names[key]) for key in names]
    return Chart(WIDTH, HEIGHT, bars, ticks, labels, legend, empty=not any(totals))


def _nice(value: int) -> int:
    """Return a round axis maximum at or above ``value``, divisible by 4."""
    if value <= 4:
        return 4
    magnitude = 10 ** (len(str(value)) - 1)
    for factor in (1, 2, 2.5, 4, 5, 8, 10):
        top = int(factor * magnitude)
        if top >= value and top % 4 == 0:
            return top
    return value + (-value % 4)
