"""The server-drawn chart of the web page, and the words for each slot's verdict (pure, no agent)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from xml.etree import ElementTree

from energy_agent.api.planning import SlotJson
from energy_agent.config import StandaloneSettings
from energy_agent.web.chart_svg import Bar, Chart, render_svg
from energy_agent.web.plan_document import slot_reason
from tests.world import AMS

SVG = "{http://www.w3.org/2000/svg}"


def quarter_hours(start: datetime, count: int) -> list[Bar]:
    bars = []
    for index in range(count):
        begin = start + timedelta(minutes=15 * index)
        status = "selected" if index % 4 == 0 else "above_threshold"
        bars.append(Bar(begin, begin + timedelta(minutes=15), 0.1 + index / 1000, status, f"why <{index}> & so"))
    return bars


def test_a_ready_by_chart_has_a_bar_per_slot_the_cap_the_departure_and_now() -> None:
    start = datetime(2026, 11, 25, 0, 0, tzinfo=AMS)
    bars = quarter_hours(start, 192)
    departure = datetime(2026, 11, 26, 7, 0, tzinfo=AMS)
    chart = Chart(bars, [(start, start + timedelta(hours=2))], AMS, start + timedelta(hours=20), 0.25, departure)
    svg = ElementTree.fromstring(render_svg(chart))  # well-formed XML: every reason is escaped
    rects = svg.findall(f"{SVG}rect")
    assert len([r for r in rects if "bar" in r.get("class", "")]) == 192
    assert rects[0].findtext(f"{SVG}title") == "Wed 00:00–00:15 · 0.1000 EUR/kWh · why <0> & so"
    titles = [
        line.findtext(f"{SVG}title") for line in svg.findall(f"{SVG}line") if line.find(f"{SVG}title") is not None
    ]
    assert titles == ["cap 0.2500 EUR/kWh", "now", "ready by Thu 07:00"]
    assert [t.text for t in svg.findall(f"{SVG}text") if t.text in ("Wed", "Thu", "Fri")] == ["Wed", "Thu", "Fri"]


def test_ticks_fall_on_local_hours_on_a_dst_day_and_an_empty_chart_says_so() -> None:
    start = datetime(2026, 10, 25, 0, 0, tzinfo=AMS)  # 25 hours: 02:00 comes twice
    svg = render_svg(Chart(quarter_hours(start, 100), [], AMS, start))
    assert re.findall(r'class="axis" x="[\d.]+" y="[\d.]+" text-anchor="middle" fill="currentColor">(\d\d)<', svg) == [
        "03", "06", "09", "12", "15", "18", "21",
    ]  # fmt: skip
    assert "no prices yet" in render_svg(Chart([], [], AMS, start))


def test_each_verdict_has_its_reason() -> None:
    settings = StandaloneSettings(price_threshold=0.25, top_x_charge_count=16)

    def slot(status: str, **extra: float) -> SlotJson:
        return {"start": "", "end": "", "price": 0.2, "status": status, "rank": 3, **extra}  # type: ignore[typeddict-item]

    assert slot_reason(slot("selected"), settings) == "chosen: price level 3 of the 16 lowest under the cap"
    assert slot_reason(slot("selected", energy_kwh=2.75), settings) == (
        "chosen: part 3 of the plan (cheapest first), 2.75 kWh"
    )
    assert slot_reason(slot("above_threshold"), settings) == "not chosen: above the cap of 0.25 EUR/kWh"
    assert slot_reason(slot("not_in_top_x"), settings) == "not chosen: not among the 16 lowest price levels"
    assert slot_reason(slot("outside_window"), settings) == "not chosen: outside the window from now to the departure"
    assert slot_reason(slot("not_needed"), settings) == "not chosen: cheaper slots already hold the energy needed"
