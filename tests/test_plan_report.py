"""The `energy-agent plan` report: the JSON document, the per-day table and the PNG chart."""

from __future__ import annotations

import importlib.util
import json
import struct
import zlib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console

from energy_agent.api.planning import DayJson, SlotJson
from energy_agent.api.prices import parse_price_curve
from energy_agent.standalone.report import plan_json, render_chart, render_table

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def slot(start: str, end: str, price: float, status: str, rank: int | None = None) -> SlotJson:
    return {"start": start, "end": end, "price": price, "status": status, "rank": rank}


def winter_day() -> DayJson:
    return {
        "date": "2026-11-25",
        "threshold_active": True,
        "excluded_by_threshold": 1,
        "no_eligible_slots": False,
        "levels": [0.1101, 0.1187],
        "slots": [
            slot("2026-11-25T02:00:00+01:00", "2026-11-25T02:15:00+01:00", 0.11005, "selected", 1),
            slot("2026-11-25T02:15:00+01:00", "2026-11-25T02:30:00+01:00", 0.1187, "selected", 2),
            slot("2026-11-25T02:30:00+01:00", "2026-11-25T02:45:00+01:00", 0.2, "not_in_top_x"),
            slot("2026-11-25T02:45:00+01:00", "2026-11-25T03:00:00+01:00", 0.3, "above_threshold"),
        ],
        "periods": [{"start": "2026-11-25T02:00:00+01:00", "end": "2026-11-25T02:30:00+01:00"}],
    }


def autumn_dst_day() -> DayJson:
    return {
        "date": "2026-10-25",
        "threshold_active": True,
        "excluded_by_threshold": 2,
        "no_eligible_slots": True,
        "levels": [],
        "slots": [
            slot("2026-10-25T02:45:00+02:00", "2026-10-25T02:00:00+01:00", 0.31, "above_threshold"),
            slot("2026-10-25T02:00:00+01:00", "2026-10-25T02:15:00+01:00", 0.32, "above_threshold"),
        ],
        "periods": [],
    }


def test_plan_json_is_the_documented_shape() -> None:
    document = plan_json(
        [winter_day()], policy="unique-price-levels", tz_name="Europe/Amsterdam", threshold=0.25, top_x=16
    )

    assert list(document) == ["policy", "timezone", "threshold", "top_x", "periods", "energy", "warnings", "days"]
    assert json.loads(json.dumps(document)) == {
        "policy": "unique-price-levels",
        "timezone": "Europe/Amsterdam",
        "threshold": 0.25,
        "top_x": 16,
        "periods": [],
        "energy": None,
        "warnings": [],
        "days": [winter_day()],
    }
    no_cap = plan_json([], policy="p", tz_name="UTC", threshold=None, top_x=4)
    assert json.dumps(no_cap) == (
        '{"policy": "p", "timezone": "UTC", "threshold": null, "top_x": 4, "periods": [], "energy": null, '
        '"warnings": [], "days": []}'
    )


def render(days: list[DayJson]) -> str:
    console = Console(record=True, width=100, color_system=None)
    render_table(days, console)
    return console.export_text()


def test_table_shows_each_slot_with_its_verdict_and_the_day_summary() -> None:
    text = render([winter_day()])

    assert "2026-11-25 · 1 slot above the cap · levels: 0.1101, 0.1187" in text
    assert "charging 02:00–02:30" in text
    lines = [line for line in text.splitlines() if "02:" in line and "│" in line]
    assert len(lines) == 4
    assert "02:00–02:15" in lines[0] and "0.11005" in lines[0] and "selected" in lines[0] and "1" in lines[0]
    assert "0.1187" in lines[1] and "0.2000" in lines[2]
    assert "not_in_top_x" in lines[2]
    assert "above_threshold" in lines[3]


def test_table_tells_the_repeated_hour_apart_and_says_when_nothing_charges() -> None:
    text = render([autumn_dst_day()])

    assert "02:45 +02:00–02:00 +01:00" in text
    assert "02:00 +01:00–02:15 +01:00" in text
    assert "levels: none" in text
    assert "no slot at or below the cap: not charging this day" in text
    assert render([]).strip() == "no prices to plan on"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature and the chunk's CRC."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    body = data[16 : 16 + length]
    (crc,) = struct.unpack(">I", data[16 + length : 20 + length])
    assert zlib.crc32(kind + body) == crc
    assert data.endswith(b"IEND\xaeB`\x82")
    width, height = struct.unpack(">II", body[:8])
    return width, height


def test_chart_writes_a_png_with_threshold_line(tmp_path: Path) -> None:
    target = render_chart([winter_day(), autumn_dst_day()], tmp_path / "plan.png", 0.25, tz_name="Europe/Amsterdam")

    assert target == tmp_path / "plan.png"
    assert png_size(target) == (1200, 450)


def test_chart_without_cap_or_days_still_writes_a_png(tmp_path: Path) -> None:
    assert png_size(render_chart([winter_day()], tmp_path / "a.png", None)) == (1200, 450)
    assert png_size(render_chart([], str(tmp_path / "b.png"), 0.25)) == (1200, 450)


def test_example_prices_are_what_the_script_writes_and_parse_cleanly() -> None:
    spec = importlib.util.spec_from_file_location("make_prices", EXAMPLES / "make_prices.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = json.loads((EXAMPLES / "prices.json").read_text(encoding="utf-8"))

    assert data == module.make_curve()
    curve = parse_price_curve(data, where="examples/prices.json")
    prices = [slot.price_eur_kwh for slot in curve.slots]
    assert len(curve.slots) == 192
    assert curve.slots[0].start == datetime(2026, 11, 25, tzinfo=AMSTERDAM)
    assert curve.end == datetime(2026, 11, 27, tzinfo=AMSTERDAM)
    assert data[0]["start"] == "2026-11-25T00:00:00+01:00"
    assert 0.10 <= min(prices) < 0.20 < 0.30 < max(prices) <= 0.40
    assert sum(price > 0.25 for price in prices) > 0
    assert len(set(prices)) < len(prices)  # exact ties
