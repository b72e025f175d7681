"""The all-in price: `price = spot × price_multiplier + price_adder_eur_kwh` on every source, and a plan that
caps and explains on it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from energy_agent.api.devices import DeviceContext
from energy_agent.api.domain import PriceCurve, PriceSlot
from energy_agent.api.errors import ConfigError, PriceDataError
from energy_agent.api.planning import PlanRequest, SlotStatus
from energy_agent.api.prices import parse_price_curve, price_curve_json
from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.config import load_settings
from energy_agent.prices.all_in import AllInPrice, AllInSink, AllInSource
from energy_agent.prices.board import PriceBoard
from energy_agent.prices.sources import PRICE_SOURCE_TYPES
from energy_agent.standalone import ready_by
from energy_agent.standalone.unique_levels import POLICY
from energy_agent.testing.clock import ManualClock

AMS = ZoneInfo("Europe/Amsterdam")
T0 = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # midnight in Amsterdam
HOUR = timedelta(hours=1)
VAT_AND_FEES = AllInPrice(multiplier=1.21, adder_eur_kwh=0.1)


def spot_curve(prices_eur_kwh: list[float]) -> PriceCurve:
    return PriceCurve(tuple(PriceSlot(T0 + i * HOUR, T0 + (i + 1) * HOUR, p) for i, p in enumerate(prices_eur_kwh)))


# --- the formula ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spot", "all_in"),
    [
        (0.1, 0.221),  # 0.1 × 1.21 + 0.1 = 0.221 (not 0.22100000000000003)
        (0.0, 0.1),
        (-0.0125, 0.084875),  # a negative spot price: VAT lowers it further, the fees still apply
        (0.084321, 0.202028),  # rounded to 6 decimals: 0.20202841
    ],
)
def test_the_formula_is_spot_times_multiplier_plus_adder(spot: float, all_in: float) -> None:
    assert VAT_AND_FEES.price_eur_kwh(spot) == all_in


def test_apply_keeps_the_spot_price_and_the_identity_changes_nothing() -> None:
    curve = spot_curve([0.1, -0.0125])
    applied = VAT_AND_FEES.apply(curve)
    assert [(s.price_eur_kwh, s.spot_eur_kwh) for s in applied.slots] == [(0.221, 0.1), (0.084875, -0.0125)]
    assert [(s.start, s.end) for s in applied.slots] == [(s.start, s.end) for s in curve.slots]
    assert VAT_AND_FEES.apply(applied) == applied, "applying twice starts from the spot price again"
    assert AllInPrice().apply(curve) is curve
    assert AllInPrice().is_identity and not VAT_AND_FEES.is_identity
    assert VAT_AND_FEES.describe() == "spot × 1.21 + 0.1 EUR/kWh"
    with pytest.raises(ValueError, match="multiplier"):
        AllInPrice(multiplier=0)
    with pytest.raises(ValueError, match="adder"):
        AllInPrice(adder_eur_kwh=float("nan"))


def registry() -> Any:
    return collect(get_plugin_manager(load_entry_points=False))


SOURCES = {
    "file": {"path": "/tmp/prices.json"},
    "mqtt": {"topic": "energy/prices"},
    "home_assistant": {"url": "http://ha:8123/api", "token": "t"},
    "entsoe": {"token": "t", "area": "NL"},
    "nordpool": {"area": "SE3"},
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_built_in_source_has_the_keys(source: str) -> None:
    data = {"prices": {"source": source, **SOURCES[source], "price_multiplier": 1.21, "price_adder_eur_kwh": 0.1}}
    settings = load_settings(registry(), data=data, environ=False)
    assert AllInPrice.of(settings.prices) == VAT_AND_FEES  # type: ignore[attr-defined]
    defaults = load_settings(registry(), data={"prices": {"source": source, **SOURCES[source]}}, environ=False)
    assert AllInPrice.of(defaults.prices).is_identity  # type: ignore[attr-defined]


def test_the_keys_are_checked_and_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = {"prices": {"source": "file", "path": "p.json", "price_multiplier": 0, "price_adder_eur_kwh": "a lot"}}
    with pytest.raises(ConfigError) as caught:
        load_settings(registry(), data=bad, environ=False)
    assert caught.value.problems == [
        "prices.price_multiplier: Input should be greater than 0 (got 0)",
        "prices.price_adder_eur_kwh: Input should be a valid number, unable to parse string as a number (got 'a lot')",
    ]
    monkeypatch.setenv("ENERGY_AGENT_PRICES__PRICE_MULTIPLIER", "1.09")
    settings = load_settings(registry(), data={"prices": {"source": "nordpool", "area": "FI"}})
    assert settings.prices.price_multiplier == 1.09  # type: ignore[attr-defined]


def test_a_plugin_source_without_the_keys_gets_its_prices_unchanged() -> None:
    class PluginConfig:
        source = "theirs"

    assert AllInPrice.of(PluginConfig()).is_identity


# --- on the way to the board ----------------------------------------------------------------------------------


async def test_a_source_delivers_all_in_prices_to_the_board_and_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps([{"start": "2026-11-25T00:00:00+01:00", "end": "2026-11-25T01:00:00+01:00", "price": 0.1}])
    )
    clock = ManualClock(T0)
    data = {"prices": {"source": "file", "path": str(path), "price_multiplier": 1.21, "price_adder_eur_kwh": 0.1}}
    settings = load_settings(registry(), data=data, environ=False)
    source_type = next(t for t in PRICE_SOURCE_TYPES if t.name == "file")
    context = DeviceContext(clock=clock, timezone=AMS, state_dir=tmp_path, mqtt=None)  # type: ignore[arg-type]
    source = source_type.create(settings.prices, context)  # type: ignore[attr-defined]
    assert isinstance(source, AllInSource) and source.formula == VAT_AND_FEES
    board = PriceBoard(clock)
    task = asyncio.create_task(source.run(board))
    try:
        await clock.advance(0)
        assert board.curve is not None
        assert [(s.price_eur_kwh, s.spot_eur_kwh) for s in board.curve.slots] == [(0.221, 0.1)]
        assert board.source == "file"
        assert board.health.source == "file"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_problems_pass_through_the_all_in_sink_unchanged() -> None:
    board = PriceBoard()
    sink = AllInSink(board, VAT_AND_FEES)
    await sink.update(spot_curve([0.2]))
    sink.error("ENTSO-E NL: HTTP 503")
    assert board.last_error == "ENTSO-E NL: HTTP 503"
    assert board.curve is not None and board.curve.slots[0].price_eur_kwh == 0.342


# --- planning on all-in prices --------------------------------------------------------------------------------


def test_the_cap_applies_to_the_all_in_price_and_the_explanation_shows_both() -> None:
    # spot 0.10 is under a 0.25 cap; all-in 0.10 × 1.21 + 0.1 = 0.221 still is; spot 0.13 → 0.2573 is not
    curve = VAT_AND_FEES.apply(spot_curve([0.10, 0.13, 0.05, 0.10]))
    plan = POLICY.plan(PlanRequest(curve, T0, AMS, 0.25, 16))
    slots = plan.explanation["days"][0]["slots"]
    assert [(s["price"], s["spot_price"], s["status"]) for s in slots] == [
        (0.221, 0.10, SlotStatus.SELECTED.value),
        (0.2573, 0.13, SlotStatus.ABOVE_THRESHOLD.value),
        (0.1605, 0.05, SlotStatus.SELECTED.value),
        (0.221, 0.10, SlotStatus.SELECTED.value),
    ]
    assert [(p.start, p.end) for p in plan.periods] == [(T0, T0 + HOUR), (T0 + 2 * HOUR, T0 + 4 * HOUR)]
    assert plan.threshold_active


def test_the_ready_by_explanation_shows_both_prices_too() -> None:
    curve = VAT_AND_FEES.apply(spot_curve([0.10, 0.13, 0.05]))
    request = PlanRequest(curve, T0, AMS, 0.25, 16, ready_by=T0 + 3 * HOUR, energy_needed_kwh=11, power_kw=11)
    slots = ready_by.POLICY.plan(request).explanation["days"][0]["slots"]
    assert [(s["price"], s["spot_price"], s["status"]) for s in slots] == [
        (0.221, 0.10, SlotStatus.NOT_NEEDED.value),
        (0.2573, 0.13, SlotStatus.ABOVE_THRESHOLD.value),
        (0.1605, 0.05, SlotStatus.SELECTED.value),
    ]


def test_a_curve_written_with_its_spot_prices_reads_back_the_same() -> None:
    """`energy-agent prices --json` writes `spot_price` beside an all-in `price`; read back (a price file, `plan
    --prices`), the formula starts from that spot again instead of applying itself twice."""
    applied = VAT_AND_FEES.apply(spot_curve([0.1, -0.0125]))
    written = price_curve_json(applied, AMS)
    assert written[0]["spot_price"] == 0.1 and written[0]["price"] == 0.221
    read = parse_price_curve(json.loads(json.dumps(written)))
    assert read == applied and VAT_AND_FEES.apply(read) == applied
    assert "spot_price" not in price_curve_json(spot_curve([0.1]), AMS)[0]
    with pytest.raises(PriceDataError, match=r"price_curve\[0\].spot_price: not a number"):
        parse_price_curve([{**written[0], "spot_price": "cheap"}])


def test_without_a_formula_the_explanation_keeps_its_keys() -> None:
    plan = POLICY.plan(PlanRequest(spot_curve([0.10, 0.30]), T0, AMS, 0.25, 16))
    slots = plan.explanation["days"][0]["slots"]
    assert [set(s) for s in slots] == [{"start", "end", "price", "status", "rank"}] * 2


def test_the_worked_example_of_the_prices_page_holds() -> None:
    page = (Path(__file__).parent.parent / "docs" / "prices.md").read_text()
    adder = round((0.1016 + 0.0250) * 1.21, 6)
    assert f"(0.1016 + 0.0250) × 1.21 = {adder}" in page
    formula = AllInPrice(1.21, adder)
    rows = re.findall(r"\| (−?[\d.]+) EUR/MWh \| −?[\d.]+ \| .* = \*\*([\d.]+)\*\* \| (yes|no) \|", page)
    assert len(rows) == 3
    for spot_eur_mwh, shown, under_cap in rows:
        price = formula.price_eur_kwh(float(spot_eur_mwh.replace("−", "-")) / 1000)
        assert f"{price:.6f}" == shown
        assert (price <= 0.25) == (under_cap == "yes")
