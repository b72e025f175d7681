"""Policy `ready-by` in the running agent, end to end: a price file, a real Mosquitto, the Charge Amps simulator.

What the charger is written must be exactly the cheapest plan for the energy still needed by the departure
(computed here with the pure policy), and the plan must follow the session's energy, a new departure or
energy from Home Assistant, "charge now", and the car being unplugged.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from energy_agent.api.domain import PriceCurve
from energy_agent.api.planning import PlanRequest
from energy_agent.api.prices import parse_price_curve
from energy_agent.standalone.ready_by import POLICY
from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder
from tests.test_standalone_e2e import written_charging
from tests.world import AMS, CP, PUT_ROUTE, World, eventually, world

EXAMPLE_PRICES = Path(__file__).parent.parent / "examples" / "prices.json"
NOW = datetime(2026, 11, 25, 18, 0, tzinfo=AMS)
DEPARTURE = datetime(2026, 11, 26, 7, 0, tzinfo=AMS)
POWER_KW = 16 * 3 * 230 / 1000  # the simulated HALO: 16 A on three phases at 230 V
SETTINGS = "hems/agent/settings"


def curve() -> PriceCurve:
    return parse_price_curve(json.loads(EXAMPLE_PRICES.read_text()))


def expected_charging(
    now: datetime, energy_kwh: float, ready_by: datetime = DEPARTURE, cap: float | None = 0.25
) -> list[tuple[datetime, datetime]]:
    """The periods the pure policy chooses, as a charger following them charges from `now` on."""
    plan = POLICY.plan(
        PlanRequest(
            curve(), now, AMS, cap, 16, 16.0, ready_by=ready_by, energy_needed_kwh=energy_kwh, power_kw=POWER_KW
        )
    )
    return [(max(p.start, now), p.end) for p in plan.periods if p.end > now]


def charged(w: World, index: int = -1) -> list[tuple[datetime, datetime]]:
    """What the charger does from now on, following the `index`th schedule written."""
    now = w.clock.now()
    return written_charging(w.writes(PUT_ROUTE)[index], now, now + timedelta(days=3))


@pytest.fixture
async def ready_by(broker: Broker, recorder: Recorder, tmp_path: Path) -> AsyncIterator[World]:
    prices = tmp_path / "prices.json"
    shutil.copy(EXAMPLE_PRICES, prices)
    async with world(broker, recorder, tmp_path, NOW) as w:
        await w.start_agent(
            operation_mode="standalone",
            prices={"source": "file", "path": str(prices)},
            standalone={"policy": "ready-by", "ready_by": "07:00", "energy_kwh": 22, "price_threshold": 0.25},
        )
        yield w


async def test_the_charger_receives_exactly_the_cheapest_plan_for_the_energy_by_the_departure(ready_by: World) -> None:
    await eventually(lambda: len(ready_by.writes(PUT_ROUTE)) == 1)
    assert charged(ready_by) == expected_charging(NOW, 22)
    await eventually(lambda: ready_by.status()["energy_planned_kwh"] is not None)
    status = ready_by.status()
    assert status["ready_by"] == DEPARTURE.isoformat()
    assert status["energy_missing_kwh"] == 0
    assert 22 <= status["energy_planned_kwh"] < 22 + POWER_KW / 60
    assert status["plan_cost_eur"] > 0
    assert status["charge_now"] is False
    ready_by.check_contracts()


async def test_a_new_departure_and_energy_from_home_assistant_replan_at_once(ready_by: World) -> None:
    await eventually(lambda: len(ready_by.writes(PUT_ROUTE)) == 1)
    await ready_by.publish(f"{SETTINGS}/ready_by/set", "02:00")
    await eventually(lambda: len(ready_by.writes(PUT_ROUTE)) == 2)
    early = DEPARTURE - timedelta(hours=5)
    assert charged(ready_by) == expected_charging(NOW, 22, early)
    await ready_by.publish(f"{SETTINGS}/energy_kwh/set", "5.5")
    await eventually(lambda: len(ready_by.writes(PUT_ROUTE)) == 3)
    assert charged(ready_by) == expected_charging(NOW, 5.5, early)
    await eventually(lambda: json.loads(ready_by.recorder.payloads(SETTINGS)[-1])["energy_kwh"] == 5.5)
    settings = json.loads(ready_by.recorder.payloads(SETTINGS)[-1])
    assert settings["ready_by"] == "02:00"
    assert settings["policy"] == "ready-by"


async def test_a_malformed_departure_from_home_assistant_is_refused_and_the_plan_kept(ready_by: World) -> None:
    await eventually(lambda: len(ready_by.writes(PUT_ROUTE)) == 1)
    await ready_by.publish(f"{SETTINGS}/ready_by/set", "7:60")
    await ready_by.publish(f"{SETTINGS}/energy_kwh/set", "-3")
    await ready_by.advance(30)
    assert len(ready_by.writes(PUT_ROUTE)) == 1
    assert ready_by.agent is not None
    assert ready_by.agent.modes.standalone.ready_by == "07:00"
    assert ready_by.agent.modes.standalone.energy_kwh == 22


async def test_the_plan_follows_the_session_energy_of_a_car_that_charges_slower_than_planned(
    broker: Broker, recorder: Recorder, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.json"
    shutil.copy(EXAMPLE_PRICES, prices)
    async with world(broker, recorder, tmp_path, NOW) as w:
        w.sim.unplug_car(CP, 1)
        w.sim.plug_in_car(CP, 1, max_current_a=8.0, phases=3)  # half the power the plan assumes
        await w.start_agent(
            operation_mode="standalone",
            prices={"source": "file", "path": str(prices)},
            standalone={"policy": "ready-by", "ready_by": "07:00", "energy_kwh": 22, "price_threshold": 0.25},
        )
        await eventually(lambda: len(w.writes(PUT_ROUTE)) == 1)
        first = expected_charging(NOW, 22)
        start = first[0][0]
        await w.advance((start - NOW).total_seconds() + 3600, step_s=30)  # an hour into the first period
        session = w.status()["session_energy_kwh"]
        assert 4 < session < 7, "the car took about half of what the plan assumed"
        assert len(w.writes(PUT_ROUTE)) >= 2, "re-planned as the session's energy grew"
        # the plan in force still holds what is missing, from the last re-plan on
        planned_kwh = sum((b - a).total_seconds() for a, b in charged(w)) / 3600 * POWER_KW
        assert planned_kwh >= 22 - session - 0.5 - POWER_KW / 60


async def test_charge_now_runs_at_full_power_until_the_car_is_unplugged(ready_by: World) -> None:
    await eventually(lambda: len(ready_by.writes(PUT_ROUTE)) == 1)
    await ready_by.publish(f"{SETTINGS}/charge_now/set", "charge-amps/1")
    await eventually(lambda: len(ready_by.writes(PUT_ROUTE)) == 2)
    now = ready_by.clock.now()
    assert charged(ready_by) == [(now, now + timedelta(hours=24))]
    await eventually(lambda: ready_by.status()["charge_now"] is True)
    assert any("charge now" in warning for warning in ready_by.status()["warnings"])
    ready_by.sim.unplug_car(CP, 1)
    await ready_by.advance_until(lambda: ready_by.status()["charge_now"] is False, limit_s=180)
    await eventually(lambda: len(ready_by.writes(PUT_ROUTE)) == 3)
    assert charged(ready_by) == expected_charging(ready_by.clock.now(), 22)


async def test_target_soc_plans_from_the_state_of_charge_on_an_mqtt_topic(
    broker: Broker, recorder: Recorder, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.json"
    shutil.copy(EXAMPLE_PRICES, prices)
    standalone = {
        "policy": "ready-by",
        "ready_by": "07:00",
        "target_soc": 80,
        "battery_kwh": 60,
        "soc_topic": "car/soc",
        "charge_efficiency": 0.9,
    }
    async with world(broker, recorder, tmp_path, NOW) as w:
        await w.start_agent(
            operation_mode="standalone", prices={"source": "file", "path": str(prices)}, standalone=standalone
        )
        await eventually(lambda: any("energy_needed_kwh" in x for x in w.status()["warnings"]))
        assert w.writes(PUT_ROUTE) == [], "no plan while the state of charge is unknown"
        await w.publish("car/soc", "50")  # (80 - 50) % of 60 kWh / 0.9 = 20 kWh at the charger
        await eventually(lambda: len(w.writes(PUT_ROUTE)) == 1)
        assert charged(w) == expected_charging(NOW, 20.0)
        await w.publish("car/soc", '{"soc": "lots"}')  # refused: the plan stays
        await w.publish("car/soc", '{"soc": 65}')  # 10 kWh
        await eventually(lambda: len(w.writes(PUT_ROUTE)) == 2)
        assert charged(w) == expected_charging(NOW, 10.0)
