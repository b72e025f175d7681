"""The price chart as SVG text, drawn on the server: no script draws it, so it shows offline and at once.

One bar per price slot, coloured by its verdict (a class per status, with a fill the page's CSS may override for
dark mode), each with a `<title>` that says when, what price and why it was or was not chosen; the charging
periods as a band under the axis; the cap as a dashed line; the departure (ready-by) and now as vertical lines.
Every text from outside (a reason) is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from xml.sax.saxutils import escape, quoteattr

WIDTH = 960
HEIGHT = 300
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 14, 40
BAND_H = 6
"""The charging-period band under the axis."""
FILL = {
    "selected": "#2e8b57",
    "above_threshold": "#d9534f",
    "not_in_top_x": "#9aa5b1",
    "not_needed": "#9aa5b1",
    "outside_window": "#c9d0d7",
    "not_scheduled": "#9aa5b1",
}
"""Default fills (light); the page's stylesheet sets its own per class."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One price slot and its verdict."""

    start: datetime
    end: datetime
    price_eur_kwh: float
    status: str
    """A `SlotStatus` value, or `not_scheduled` (a slot outside the HEMS schedule)."""
    why: str
    """Why it was or was not chosen, in words."""


@dataclass(frozen=True)
class Chart:
    """What one chart shows."""

    bars: Sequence[Bar]
    periods: Sequence[tuple[datetime, datetime]]
    """The charging periods (merged runs of chosen slots, or the HEMS schedule's)."""
    zone: tzinfo
    now: datetime
    cap_eur_kwh: float | None = None
    departure: datetime | None = None
    label: str = "Prices and charging slots"


def price_text(price_eur_kwh: float) -> str:
    """A price as the chart shows it: four decimals."""
    return f"{price_eur_kwh:.4f}"


def span_text(start: datetime, end: datetime, zone: tzinfo) -> str:
    """`Wed 14:00–14:15` in `zone`."""
    return f"{start.astimezone(zone):%a %H:%M}–{end.astimezone(zone):%H:%M}"


def _nice_step(span: float, ticks: int = 4) -> float:
    raw = span / ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(step * magnitude for step in (1, 2, 2.5, 5, 10) if step * magnitude >= raw)


class _Scale:
    def __init__(self, chart: Chart) -> None:
        first, last = chart.bars[0].start, max(bar.end for bar in chart.bars)
        prices = [bar.price_eur_kwh for bar in chart.bars]
        if chart.cap_eur_kwh is not None:
            prices.append(chart.cap_eur_kwh)
        self.low = min(0.0, min(prices))
        high = max(0.0, max(prices))
        self.step = _nice_step((high - self.low) or 1.0)
        self.low = math.floor(self.low / self.step) * self.step
        self.high = math.ceil(high / self.step) * self.step or self.step
        self.t0 = first
        self.seconds = (last - first).total_seconds()
        self.plot_w = WIDTH - LEFT - RIGHT
        self.plot_h = HEIGHT - TOP - BOTTOM

    def x(self, moment: datetime) -> float:
        return LEFT + (moment - self.t0).total_seconds() / self.seconds * self.plot_w

    def y(self, price: float) -> float:
        return TOP + (self.high - price) / (self.high - self.low) * self.plot_h


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def render_svg(chart: Chart) -> str:
    """The chart as one `<svg>` element (scales to its container's width); a short note when it has no bars."""
    label = quoteattr(chart.label)
    if not chart.bars:
        return (
            f'<svg class="chart" role="img" aria-label={label} viewBox="0 0 {WIDTH} 60" xmlns="http://www.w3.org/2000/svg">'
            '<text class="note" x="12" y="34" font-size="16" fill="currentColor">no prices yet</text></svg>'
        )
    scale = _Scale(chart)
    out = [
        f'<svg class="chart" role="img" aria-label={label} viewBox="0 0 {WIDTH} {HEIGHT}" '
        'xmlns="http://www.w3.org/2000/svg" font-size="12" font-family="sans-serif">'
    ]
    out += _grid(scale)
    out += _time_axis(chart, scale)
    zero = scale.y(0.0)
    for bar in chart.bars:
        x0, x1 = scale.x(bar.start), scale.x(bar.end)
        top = scale.y(bar.price_eur_kwh)
        y, height = min(top, zero), max(abs(zero - top), 1.0)
        title = f"{span_text(bar.start, bar.end, chart.zone)} · {price_text(bar.price_eur_kwh)} EUR/kWh · {bar.why}"
        out.append(
            f'<rect class="bar {escape(bar.status)}" x="{_n(x0)}" y="{_n(y)}" width="{_n(max(x1 - x0 - 0.6, 0.8))}" '
            f'height="{_n(height)}" fill="{FILL.get(bar.status, "#9aa5b1")}"><title>{escape(title)}</title></rect>'
        )
    band_y = HEIGHT - BOTTOM + 22
    for start, end in chart.periods:
        x0, x1 = scale.x(max(start, scale.t0)), scale.x(min(end, chart.bars[-1].end))
        if x1 > x0:
            out.append(
                f'<rect class="period" x="{_n(x0)}" y="{band_y}" width="{_n(x1 - x0)}" height="{BAND_H}" '
                f'fill="{FILL["selected"]}"><title>charging {escape(span_text(start, end, chart.zone))}</title></rect>'
            )
    if chart.cap_eur_kwh is not None:
        cap_y = _n(scale.y(chart.cap_eur_kwh))
        out.append(
            f'<line class="cap" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{cap_y}" y2="{cap_y}" stroke="#333" '
            f'stroke-dasharray="6 4"><title>cap {price_text(chart.cap_eur_kwh)} EUR/kWh</title></line>'
            f'<text class="cap-label" x="{WIDTH - RIGHT - 4}" y="{_n(scale.y(chart.cap_eur_kwh) - 4)}" '
            f'text-anchor="end" fill="currentColor">cap {chart.cap_eur_kwh:g}</text>'
        )
    out += _vertical(chart, scale, chart.now, "now", "now")
    if chart.departure is not None:
        departure = f"ready by {chart.departure.astimezone(chart.zone):%a %H:%M}"
        out += _vertical(chart, scale, chart.departure, "departure", departure)
    out.append("</svg>")
    return "".join(out)


def _grid(scale: _Scale) -> list[str]:
    out = []
    count = round((scale.high - scale.low) / scale.step)
    for index in range(count + 1):
        price = scale.low + index * scale.step
        y = _n(scale.y(price))
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" stroke="#8884"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y}" dy="4" text-anchor="end" fill="currentColor">{price:.2f}</text>'
        )
    return out


def _time_axis(chart: Chart, scale: _Scale) -> list[str]:
    """A tick at every third local hour (quarter hours are walked, so DST days and odd offsets come out right); a
    local midnight is labelled with its day and drawn across the plot."""
    out = []
    end = chart.bars[-1].end
    tick = scale.t0.replace(second=0, microsecond=0) - timedelta(minutes=scale.t0.minute % 15)
    while tick <= end:
        shown = tick.astimezone(chart.zone)
        if tick >= scale.t0 and shown.minute == 0 and shown.hour % 3 == 0:
            x = _n(scale.x(tick))
            if shown.hour == 0:
                out.append(f'<line class="day" x1="{x}" x2="{x}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#8888"/>')
            text = f"{shown:%a}" if shown.hour == 0 else f"{shown:%H}"
            out.append(
                f'<text class="axis" x="{x}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" fill="currentColor">'
                f"{text}</text>"
            )
        tick += timedelta(minutes=15)
    return out


def _vertical(chart: Chart, scale: _Scale, moment: datetime, kind: str, text: str) -> list[str]:
    if not scale.t0 <= moment <= chart.bars[-1].end:
        return []
    x = _n(scale.x(moment))
    return [
        f'<line class="{kind}" x1="{x}" x2="{x}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#1f4e79" '
        f'stroke-width="1.5"><title>{escape(text)}</title></line>',
        f'<text class="{kind}-label" x="{x}" y="{TOP - 2}" dx="3" fill="currentColor">{escape(text)}</text>',
    ]
