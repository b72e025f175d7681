"""Price continuity and price health at the user's path: standalone mode on a file source, a real Mosquitto and
the Charge Amps simulator. An empty or shorter delivery never takes away prices the last good curve still has."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from energy_agent.api.prices import parse_price_curve
from energy_agent.prices.board import EMPTY_DELIVERY
from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder
from tests.health_client import get, serving
from tests.test_standalone_e2e import EXAMPLE_PRICES, planned, written_charging
from tests.world import AMS, DELETE_ROUTE, PUT_ROUTE, World, eventually, world

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=AMS)


@pytest.fixture
async def on_file(broker: Broker, recorder: Recorder, tmp_path: Path) -> AsyncIterator[tuple[World, Path]]:
    prices = tmp_path / "prices.json"
    shutil.copy(EXAMPLE_PRICES, prices)
    async with world(broker, recorder, tmp_path, NOW) as w:
        await w.start_agent(
            operation_mode="standalone", prices={"source": "file", "path": str(prices), "poll_interval_s": 10}
        )
        yield w, prices


async def test_an_empty_price_file_keeps_the_plan_on_the_charger_and_in_the_status(on_file: tuple[World, Path]) -> None:
    w, prices = on_file
    await eventually(lambda: len(w.writes(PUT_ROUTE)) == 1)
    await eventually(lambda: w.status()["schedule_source"] == "standalone")
    before = w.status()
    curve = parse_price_curve(json.loads(EXAMPLE_PRICES.read_text()))

    prices.write_text("[]")
    await w.advance(60, step_s=10)

    assert w.writes(DELETE_ROUTE) == [], "the plan stays on the charger"
    assert len(w.writes(PUT_ROUTE)) == 1
    status = w.status()
    for field in ("schedule_source", "next_period_start", "next_period_end", "schedule_expires_at"):
        assert status[field] == before[field], field
    assert w.agent is not None
    assert w.agent.board.curve == curve
    expected = [(max(p.start, NOW), p.end) for p in planned(curve, NOW, 0.25, 16)]
    assert written_charging(w.writes(PUT_ROUTE)[0], NOW, NOW + timedelta(days=3)) == expected


async def test_a_shorter_price_file_keeps_the_plan_until_the_last_good_prices_end(on_file: tuple[World, Path]) -> None:
    w, prices = on_file
    await eventually(lambda: len(w.writes(PUT_ROUTE)) == 1)
    full = json.loads(EXAMPLE_PRICES.read_text())
    curve = parse_price_curve(full)
    today = [slot for slot in full if datetime.fromisoformat(slot["start"]).date() == NOW.date()]
    assert 0 < len(today) < len(full)

    prices.write_text(json.dumps(today))
    await w.advance(60, step_s=10)

    assert len(w.writes(PUT_ROUTE)) == 1, "no shorter plan is written"
    assert w.writes(DELETE_ROUTE) == []
    assert w.writes(PUT_ROUTE)[0]["validTo"] == "2026-11-26T23:00:00Z"
    assert w.agent is not None
    assert w.agent.board.curve == curve


# --- price health: the status warning, the Home Assistant entity, /healthz -----------------------------------

PRICES_TOPIC = "hems/agent/prices"


async def test_a_price_problem_shows_in_the_status_the_price_entity_and_healthz(
    on_file: tuple[World, Path], recorder: Recorder
) -> None:
    w, prices = on_file
    agent = w.agent
    assert agent is not None
    await eventually(lambda: w.status()["schedule_source"] == "standalone")
    assert not any(warning.startswith("prices") for warning in w.status()["warnings"])
    await recorder.wait_for(PRICES_TOPIC)
    assert recorder.json(PRICES_TOPIC)[-1]["state"] == "ok"
    config = recorder.json("homeassistant/device/energy_agent/config")[-1]["cmps"]["price_data"]
    assert (config["entity_category"], config["state_topic"], config["json_attributes_topic"]) == (
        "diagnostic",
        PRICES_TOPIC,
        PRICES_TOPIC,
    )

    await w.advance(120, step_s=10)  # 08:02
    prices.write_text("[]")
    expected = f"prices (file): last update failed at 08:02: {EMPTY_DELIVERY}; prices cover until 2026-11-26 24:00"
    await w.advance(10, step_s=10)
    await eventually(lambda: expected in w.status()["warnings"])
    await eventually(lambda: recorder.json(PRICES_TOPIC)[-1]["state"] == "error")
    entity = recorder.json(PRICES_TOPIC)[-1]
    assert entity["last_error"] == EMPTY_DELIVERY
    assert entity["last_success"] == "2026-11-25T07:00:00+00:00"
    assert entity["covers_until"] == "2026-11-26T23:00:00+00:00"
    assert entity["warning"] == expected
    w.check_contracts()
    async with serving(agent) as url:
        answer = await get(f"{url}/healthz")
    # a failed update while the last good prices cover the coming hours: healthy, with a warning
    assert (answer.status, answer.json()) == (200, {"ok": True, "reasons": [], "warnings": [expected]})

    # the prices run out: nothing to plan on in standalone mode is a reason, and the entity says stale
    await w.advance((datetime(2026, 11, 27, 0, 5, tzinfo=AMS) - w.clock.now()).total_seconds(), step_s=600)
    await eventually(lambda: recorder.json(PRICES_TOPIC)[-1]["state"] == "stale")
    async with serving(agent) as url:
        answer = await get(f"{url}/healthz")
    stale = "prices (file): last update failed at 2026-11-25 08:02: " + EMPTY_DELIVERY
    stale += "; no price covers now (prices run until 2026-11-26 24:00)"
    assert (answer.status, answer.json()) == (503, {"ok": False, "reasons": [stale], "warnings": []})
    assert stale in w.status()["warnings"]
