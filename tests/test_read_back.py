"""Issue 13, item 3: the agent reports what the charger holds. A real Mosquitto, the Charge Amps simulator over
real HTTP (user-app API, which stores the schedule in the cloud), a running agent on the injected clock."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder
from energy_agent.web.health import health_warnings, metrics_text
from energy_agent_chargeamps.simulator import Fault, FaultMode
from tests.world import AMS, BASE, CP, PUT_ROUTE, World, eventually, hems_schedule, world

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
GET_ROUTE = "GET /api/smartChargingSchedules/chargepoint/{chargePointId}"
INTERVAL_S = 600


def at(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).isoformat()


def schedule(command_id: str, start_h: float = 2, end_h: float = 3) -> dict[str, Any]:
    return hems_schedule(NOW, command_id, start_h, end_h)


@pytest.fixture
async def w(broker: Broker, recorder: Recorder, tmp_path: Path) -> AsyncIterator[World]:
    async with world(broker, recorder, tmp_path, NOW) as instance:
        yield instance


def applied_periods(w: World) -> list[tuple[str, str]]:
    applied = w.status()["applied"]
    assert applied is not None
    return [(p["start"], p["end"]) for p in applied["periods"]]


async def test_the_cloud_is_read_at_start_and_the_status_says_what_it_holds(w: World) -> None:
    await w.start_agent(read_back={"interval_s": INTERVAL_S})
    await eventually(lambda: w.status().get("applied") is not None)
    assert w.sim.requests(GET_ROUTE), "the stored schedule was never read"
    # a new charger in mode On charges whenever a car is in: shown as such, and left alone until the agent writes
    assert w.status()["applied"]["in_sync"] is False and applied_periods(w) == [(at(0), at(7 * 24))]
    assert w.recorder.json(f"{BASE}/capabilities")[-1]["reads_back"] is True
    await w.command(schedule("c-1"))
    await w.advance_until(lambda: applied_periods(w) == [(at(2), at(3))])  # every write is confirmed by a read
    assert w.status()["applied"]["in_sync"] is True and w.status()["drift_count"] == 0
    assert w.check_contracts() > 0


async def test_a_write_that_timed_out_but_landed_is_reported_as_in_force(w: World) -> None:
    await w.start_agent(chargeamps={"timeout_s": 0.3}, read_back={"interval_s": INTERVAL_S})
    w.sim.inject(PUT_ROUTE, Fault.LATE_ANSWER, mode=FaultMode.ALWAYS, delay_s=0.6)
    answer = await w.command_over_time(schedule("late"))
    assert (answer["accepted"], answer["reason"], answer["retry"]) == (False, "timeout", True)
    w.sim.clear_faults()
    await w.advance_until(lambda: w.status()["schedule_source"] == "hems")
    assert w.status()["next_period_start"] == at(2)
    assert w.status()["applied"]["in_sync"] is True and applied_periods(w) == [(at(2), at(3))]
    # the HEMS's resend is then answered accepted without a second write
    writes = len(w.sim.requests(PUT_ROUTE))
    again = await w.command(schedule("late"))
    assert again["accepted"] is True and len(w.sim.requests(PUT_ROUTE)) == writes


async def test_a_schedule_deleted_in_the_phone_app_is_noticed_and_written_again(w: World) -> None:
    await w.start_agent(read_back={"interval_s": INTERVAL_S})
    await w.command(schedule("c-1"))
    writes = len(w.sim.requests(PUT_ROUTE))
    w.sim.app_delete_schedule(CP, 1)
    await w.advance_until(lambda: w.status()["drift_count"] == 1 and w.status()["applied"]["in_sync"] is True)
    assert len(w.sim.requests(PUT_ROUTE)) == writes + 1
    assert applied_periods(w) == [(at(2), at(3))]


async def test_with_on_drift_report_an_app_edit_is_shown_not_undone(w: World) -> None:
    await w.start_agent(read_back={"interval_s": INTERVAL_S, "on_drift": "report"})
    await w.command(schedule("c-1"))
    writes = len(w.sim.requests(PUT_ROUTE))
    w.sim.app_delete_schedule(CP, 1)
    await w.advance_until(lambda: w.status()["drift_count"] == 1)
    assert w.status()["applied"]["in_sync"] is False and applied_periods(w) == []
    assert len(w.sim.requests(PUT_ROUTE)) == writes
    agent = w.agent
    assert agent is not None
    health = health_warnings(agent.view, [])
    assert (
        "charge-amps/1: holds something other than the schedule in force (1 drift(s) found since start, 0 repaired)"
        in health
    )
    metrics = metrics_text(agent.view)
    assert 'energy_agent_device_drifts_total{device="charge-amps/1",outcome="found"} 1' in metrics
    assert 'energy_agent_device_in_sync{device="charge-amps/1"} 0' in metrics


async def test_after_a_lost_state_file_the_status_shows_the_schedule_the_cloud_keeps(w: World) -> None:
    await w.start_agent(read_back={"interval_s": INTERVAL_S})
    await w.command(schedule("c-1"))
    await w.stop_agent()
    (w.tmp_path / "state" / "state.json").write_text("{ not json")
    await w.advance(1)  # so that this run's read is told apart from the last run's
    agent = await w.start_agent(read_back={"interval_s": INTERVAL_S})
    runtime = agent.runtimes["charge-amps/1"]
    await eventually(lambda: runtime.held is not None and runtime.record.schedule is not None)
    held = runtime.held
    assert held is not None
    await eventually(
        lambda: w.status()["applied"] and datetime.fromisoformat(w.status()["applied"]["read_at"]) == held.read_at
    )
    status = w.status()
    assert (status["schedule_source"], status["next_period_start"], status["next_period_end"]) == ("hems", at(2), at(3))
    assert status["applied"]["in_sync"] is True


async def test_a_kill_during_a_write_is_resolved_by_reading_back_at_the_next_start(w: World) -> None:
    await w.start_agent(read_back={"interval_s": INTERVAL_S})
    await w.command(schedule("old", 1, 2))
    w.sim.inject(PUT_ROUTE, Fault.LATE_ANSWER, delay_s=30)  # the cloud stores it; the answer never comes back
    await w.publish(f"{BASE}/schedule/set", json.dumps(schedule("new", 4, 5)).encode())
    await eventually(lambda: len(w.sim.requests(PUT_ROUTE)) == 2)
    await w.kill_agent()
    w.sim.clear_faults()
    state = json.loads((w.tmp_path / "state" / "state.json").read_text())
    assert state["devices"]["charge-amps/1"]["in_flight"]["schedule"]["command_id"] == "new"
    await w.start_agent(read_back={"interval_s": INTERVAL_S})
    await eventually(lambda: w.status()["next_period_start"] == at(4))
    assert w.status()["applied"]["in_sync"] is True and applied_periods(w) == [(at(4), at(5))]
