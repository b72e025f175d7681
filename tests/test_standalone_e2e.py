"""Standalone mode end to end: a price file, the agent, a real Mosquitto and the Charge Amps simulator."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from energy_agent.api.domain import Period, PriceCurve, PriceSlot
from energy_agent.api.planning import PlanRequest
from energy_agent.api.prices import parse_price_curve
from energy_agent.standalone.unique_levels import POLICY
from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder
from energy_agent_chargeamps.weekly import WeeklyPeriod, WeeklySchedule, following
from tests.world import AMS, DELETE_ROUTE, PUT_ROUTE, World, eventually, world

EXAMPLE_PRICES = Path(__file__).parent.parent / "examples" / "prices.json"
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=AMS)


def written_charging(body: dict[str, object], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """What a charger that follows the written weekly schedule charges between start and end."""
    weekly = WeeklySchedule(
        start_of_schedule=datetime.fromisoformat(str(body["startOfSchedule"]).replace("Z", "+00:00")),
        periods=tuple(
            WeeklyPeriod(p["from"], p["to"], p["maxCurrent"])  # type: ignore[index]
            for p in body["schedulePeriods"]  # type: ignore[attr-defined]
        ),
        valid_to=datetime.fromisoformat(str(body["validTo"]).replace("Z", "+00:00")) if body["validTo"] else None,
    )
    return [(a, b) for a, b, _ in following(weekly, start, end)]


def planned(curve: PriceCurve, now: datetime, threshold: float | None, top_x: int) -> list[Period]:
    plan = POLICY.plan(PlanRequest(curve, now, AMS, threshold, top_x))
    return [p for p in plan.periods if p.end > now]


@pytest.fixture
async def standalone(broker: Broker, recorder: Recorder, tmp_path: Path) -> AsyncIterator[World]:
    prices = tmp_path / "prices.json"
    shutil.copy(EXAMPLE_PRICES, prices)
    async with world(broker, recorder, tmp_path, NOW) as w:
        await w.start_agent(operation_mode="standalone", prices={"source": "file", "path": str(prices)})
        yield w


async def test_the_cloud_receives_exactly_the_future_periods_of_the_plan(standalone: World) -> None:
    await eventually(lambda: len(standalone.writes(PUT_ROUTE)) == 1)
    curve = parse_price_curve(json.loads(EXAMPLE_PRICES.read_text()))
    expected = [(p.start, p.end) for p in planned(curve, NOW, 0.25, 16)]
    expected[0] = (max(expected[0][0], NOW), expected[0][1])
    body = standalone.writes(PUT_ROUTE)[0]
    assert written_charging(body, NOW, curve.end + timedelta(days=2)) == expected  # type: ignore[operator]
    assert body["validTo"] == "2026-11-26T23:00:00Z", "the cloud stops where the known prices end"
    await eventually(lambda: standalone.status()["schedule_source"] == "standalone")
    status = standalone.status()
    assert status["price_threshold_active"] is True
    assert status["no_eligible_slots"] is False
    first = planned(curve, NOW, 0.25, 16)[0]
    assert status["next_period_start"] == first.start.astimezone(AMS).isoformat()
    assert status["next_period_end"] == first.end.astimezone(AMS).isoformat()
    standalone.check_contracts()


async def test_no_write_when_the_plan_did_not_change(standalone: World, tmp_path: Path) -> None:
    await eventually(lambda: len(standalone.writes(PUT_ROUTE)) == 1)
    (tmp_path / "prices.json").write_text(EXAMPLE_PRICES.read_text())  # same content, new mtime
    await standalone.advance(15 * 60, step_s=10)
    assert len(standalone.writes(PUT_ROUTE)) == 1
    assert standalone.writes(DELETE_ROUTE) == []


async def test_a_new_cap_at_run_time_replans_at_once(standalone: World) -> None:
    await eventually(lambda: len(standalone.writes(PUT_ROUTE)) == 1)
    assert standalone.agent is not None
    await standalone.agent.commands.change_standalone(price_threshold=0.17)
    assert len(standalone.writes(PUT_ROUTE)) == 2
    curve = parse_price_curve(json.loads(EXAMPLE_PRICES.read_text()))
    expected = [(max(p.start, NOW), p.end) for p in planned(curve, NOW, 0.17, 16)]
    assert written_charging(standalone.writes(PUT_ROUTE)[1], NOW, NOW + timedelta(days=3)) == expected
    with pytest.raises(ValueError, match="top_x_charge_count"):
        await standalone.agent.commands.change_standalone(top_x_charge_count=0)
    assert len(standalone.writes(PUT_ROUTE)) == 2


async def test_everything_above_the_cap_means_no_charging_and_a_warning(standalone: World) -> None:
    await eventually(lambda: len(standalone.writes(PUT_ROUTE)) == 1)
    assert standalone.agent is not None
    await standalone.agent.commands.change_standalone(price_threshold=0.05)
    await eventually(lambda: len(standalone.writes(DELETE_ROUTE)) == 1)
    await eventually(lambda: standalone.status()["no_eligible_slots"] is True)
    status = standalone.status()
    assert status["next_period_start"] is None
    assert any("cap" in w for w in status["warnings"])


def synthetic_day(day: date) -> list[dict[str, object]]:
    """Hourly prices with a cheap night and ties, for one local day."""
    slots = []
    for hour in range(24):
        start = datetime.combine(day, time(hour), AMS)
        price = round(0.20 + 0.08 * math.sin((hour - 9) / 24 * 2 * math.pi), 3)
        slots.append({"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(), "price": price})
    return slots


async def test_a_week_of_operation_uses_few_logins_and_one_write_per_day(
    broker: Broker, recorder: Recorder, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.json"
    start = datetime(2026, 11, 23, 14, 0, tzinfo=AMS)  # Monday afternoon: tomorrow's prices are out
    # The user-app API has no refresh token; its token lifetime is not documented. A day is assumed here.
    async with world(broker, recorder, tmp_path, start, userapp_token_lifetime_s=24 * 3600) as w:
        day = start.date()
        prices.write_text(json.dumps(synthetic_day(day) + synthetic_day(day + timedelta(days=1))))
        await w.start_agent(
            operation_mode="standalone",
            prices={"source": "file", "path": str(prices), "poll_interval_s": 300},
            chargeamps={"poll_interval_s": 300},
        )
        for _ in range(7):
            await w.advance(24 * 3600, step_s=300)
            day += timedelta(days=1)
            prices.write_text(json.dumps(synthetic_day(day) + synthetic_day(day + timedelta(days=1))))
        await w.advance(600, step_s=300)
        puts = len(w.writes(PUT_ROUTE))
        logins = w.sim.logins("owner@example.com")
        calls = len(w.sim.request_log)
        print(f"\nweek in standalone mode: {calls} HTTP calls, {logins} logins, {puts} schedule writes")
        assert 7 <= puts <= 9
        assert logins <= 9
        assert calls < 7 * 24 * (12 + 4) + 50  # a status read every 5 min, a read-back every 15 min
        assert all(entry.status == 200 for entry in w.sim.request_log)
        assert w.status()["state"] in ("plugged_in", "charging", "idle")


def test_plan_of_the_example_file_selects_only_slots_under_the_cap() -> None:
    curve = parse_price_curve(json.loads(EXAMPLE_PRICES.read_text()))
    for period in planned(curve, NOW, 0.25, 16):
        inside = [s for s in curve.slots if period.start <= s.start < period.end]
        assert inside
        assert all(s.price_eur_kwh <= 0.25 for s in inside)
    assert isinstance(curve.slots[0], PriceSlot)
