"""A whole agent with the OCPP plugin, a real Mosquitto and simulated chargers over real websockets.

HEMS commands go in over MQTT; what the simulated charger then applies, evaluated from the profiles it holds,
is compared with the command second by second around every edge. Time is a ManualClock shared by the agent and
the chargers; MQTT and websockets traffic is real, so each step waits (in real time) for what it expects.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import pytest
from ocpp_harness import NOW, at, charge_point, section

import energy_agent_ocpp.plugin
from energy_agent.api import DEFAULT_STANDALONE_POLICY, Period, PlanRequest, Schedule, ScheduleSource
from energy_agent.testing import (
    ManualClock,
    Mosquitto,
    Recorder,
    RunningAgent,
    curve_json,
    eventually,
    free_port,
    plugin_registry,
    running_agent,
    sample_curve,
)
from energy_agent_ocpp.simulator import Car, ChargerSimulator, Quirks

TOPIC = "hems/ocpp/HALO-123456-1"
STATUS_INTERVAL_S = 15


def iso(seconds: float) -> str:
    return at(seconds).isoformat()


COMMAND = {
    "source": "hems",
    "command_id": "plan-1",
    "periods": [
        {"start": iso(900), "end": iso(2700)},
        {"start": iso(3600), "end": iso(5400), "max_current": 6},
    ],
    "max_current": 10,
    "expires_at": iso(4 * 3600),
}
AS_SCHEDULE = Schedule(
    periods=(Period(at(900), at(2700), None), Period(at(3600), at(5400), 6)),
    source=ScheduleSource.HEMS,
    max_current_a=10,
    expires_at=at(4 * 3600),
)


def agent_config(broker: Mosquitto, tmp_path: Path, ocpp: dict[str, Any]) -> dict[str, Any]:
    """An agent in hems mode with an `ocpp:` section, on the test broker."""
    return {
        "operation_mode": "hems",
        "timezone": "Europe/Amsterdam",
        "state_dir": str(tmp_path / "state"),
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.05, "reconnect_max_s": 0.2},
        "health": {"port": 0},
        "web": {"port": 0},
        "ocpp": ocpp,
    }


class World:
    """The agent, a charger per charge point, the recorder, the clock."""

    def __init__(
        self,
        agent: RunningAgent,
        chargers: list[ChargerSimulator],
        broker: Mosquitto,
        recorder: Recorder,
        clock: ManualClock,
    ) -> None:
        self.agent, self.chargers, self.broker, self.recorder, self.clock = agent, chargers, broker, recorder, clock

    async def send(self, topic: str, payload: Any, kind: str = "set") -> dict[str, Any]:
        """Publish a command as a HEMS does and return the agent's answer to it."""
        results = f"{topic}/schedule/result"
        before = len(self.recorder.payloads(results))
        async with aiomqtt.Client(self.broker.host, self.broker.port) as client:
            await client.publish(f"{topic}/schedule/{kind}", json.dumps(payload), qos=1)
        await eventually(lambda: len(self.recorder.payloads(results)) > before, timeout_s=10)
        answer: dict[str, Any] = self.recorder.json(results)[before]
        return answer

    async def advance_to(self, seconds: float) -> None:
        """Move the clock to NOW + seconds."""
        await self.clock.advance((at(seconds) - self.clock.now()).total_seconds())

    async def polled_until(
        self, condition: Callable[[dict[str, Any]], bool], topic: str = TOPIC, max_polls: int = 5
    ) -> dict[str, Any]:
        """Let status polls happen (one status_interval_s at a time) until the published status meets `condition`.

        What a charger reports reaches the agent over its socket in real time; the agent publishes it at its next
        poll on the clock.
        """
        for _ in range(max_polls):
            try:
                # the first status may not be out yet: the charger connects in real time, the poll runs on the clock
                await eventually(
                    lambda: bool(self.recorder.payloads(f"{topic}/status")) and condition(self.status(topic)),
                    timeout_s=0.5,
                )
                return self.status(topic)
            except TimeoutError:
                await self.clock.advance(STATUS_INTERVAL_S)
        last = self.status(topic) if self.recorder.payloads(f"{topic}/status") else None
        raise AssertionError(f"the status never met the condition; last: {last}")

    def status(self, topic: str = TOPIC) -> dict[str, Any]:
        last: dict[str, Any] = self.recorder.json(f"{topic}/status")[-1]
        return last


@asynccontextmanager
async def world_for(
    broker: Mosquitto,
    recorder: Recorder,
    tmp_path: Path,
    points: list[dict[str, Any]],
    quirks: Quirks,
    car: bool,
    **overrides: Any,
) -> AsyncIterator[World]:
    clock = ManualClock(NOW)
    port = free_port()
    document = {**agent_config(broker, tmp_path, section(port, *points)), **overrides}
    registry = plugin_registry(energy_agent_ocpp.plugin)
    async with running_agent(document, registry=registry, clock=clock) as agent:
        chargers = [ChargerSimulator(f"ws://127.0.0.1:{port}", p["id"], p["password"], clock=clock, quirks=quirks,
                                     reconnect_delay_s=0.05) for p in points]  # fmt: skip
        for charger in chargers:
            if car:
                await charger.plug_in(1, Car())
            await charger.start()
        try:
            for charger in chargers:
                await charger.wait_connected()
                await eventually(lambda c=charger: len(c.calls_of("TriggerMessage")) == 1, timeout_s=10)
            yield World(agent, chargers, broker, recorder, clock)
        finally:
            for charger in chargers:
                await charger.stop()


@pytest.fixture
def quirks() -> Quirks:
    return Quirks()


@pytest.fixture
def car() -> bool:
    return True


@pytest.fixture
async def world(
    broker: Mosquitto, recorder: Recorder, tmp_path: Path, quirks: Quirks, car: bool
) -> AsyncIterator[World]:
    async with world_for(broker, recorder, tmp_path, [charge_point()], quirks, car) as value:
        yield value


async def test_a_hems_command_reaches_the_charger_as_a_profile_that_matches_it_to_the_second(world: World) -> None:
    [charger] = world.chargers
    answer = await world.send(TOPIC, COMMAND)
    assert answer["accepted"] is True and answer["errors"] == [] and answer["command_id"] == "plan-1"
    plan = charger.calls_of("SetChargingProfile")[-1]
    assert plan["valid_to"] == "2026-11-25T13:00:00Z" and plan["charging_profile_purpose"] == "TxDefaultProfile"
    for edge in [NOW, at(900), at(2700), at(3600), at(5400), at(4 * 3600)]:
        for second in range(-2, 3):
            when = edge + timedelta(seconds=second)
            if when < NOW:
                continue
            period = AS_SCHEDULE.active_at(when)
            wanted = 0.0 if period is None else AS_SCHEDULE.current_for(period)
            assert charger.limit_at(1, when) == wanted, when
    # the agent reports the plan and what the charger does while time passes
    await eventually(lambda: world.status()["last_command_id"] == "plan-1")
    status = await world.polled_until(lambda s: s["online"] and s["state"] == "plugged_in")
    assert status["schedule_source"] == "hems" and status["next_period_start"] == "2026-11-25T10:15:00+01:00"
    await world.advance_to(900)
    assert charger.current_a(1) == 10
    status = await world.polled_until(lambda s: s["state"] == "charging" and s["current_power_kw"] > 6)
    assert status["schedule_active"] is True
    await world.advance_to(2700)
    assert charger.current_a(1) == 0
    await world.polled_until(lambda s: s["state"] == "plugged_in" and s["current_power_kw"] == 0)


async def test_a_clear_holds_the_connector_at_0_a(world: World) -> None:
    [charger] = world.chargers
    await world.send(TOPIC, COMMAND)
    answer = await world.send(TOPIC, {"command_id": "stop"}, kind="clear")
    assert answer["accepted"] is True and answer["command"] == "clear"
    for seconds in (0, 901, 3601, 86400 * 30):
        assert charger.limit_at(1, at(seconds)) == 0


async def test_a_repeated_identical_command_sends_nothing_to_the_charger(world: World) -> None:
    [charger] = world.chargers
    await world.send(TOPIC, COMMAND)
    sent = len(charger.calls_of("SetChargingProfile"))
    answer = await world.send(TOPIC, {**COMMAND, "command_id": "plan-1-again"})
    assert answer["accepted"] is True
    assert len(charger.calls_of("SetChargingProfile")) == sent


@pytest.mark.parametrize(("quirks", "car"), [(Quirks(rejects_tx_default="Rejected"), False)])
async def test_a_charger_that_refuses_is_never_reported_as_accepted(world: World) -> None:
    [charger] = world.chargers
    answer = await world.send(TOPIC, COMMAND)
    assert answer["accepted"] is False and answer["applied_at"] is None
    assert answer["errors"] == [
        {
            "path": "$",
            "message": "the device refused it: HALO-123456 connector 1 refused the charging profile "
            "(TxDefaultProfile on the connector: Rejected; TxDefaultProfile on connector 0: Rejected)",
        }
    ]
    await eventually(lambda: world.status()["last_command_result"] == "refused")
    assert world.status()["schedule_source"] == "none"
    assert charger.profiles.profiles == []


@pytest.mark.parametrize("quirks", [Quirks(rejects_tx_default="NotSupported")])
async def test_a_charger_that_refuses_tx_default_takes_the_plan_as_a_tx_profile(world: World) -> None:
    [charger] = world.chargers
    answer = await world.send(TOPIC, COMMAND)
    assert answer["accepted"] is True
    plan = charger.calls_of("SetChargingProfile")[-1]
    assert plan["charging_profile_purpose"] == "TxProfile"
    assert plan["transaction_id"] == charger.connectors[1].transaction_id
    assert charger.limit_at(1, at(901)) == 10 and charger.limit_at(1, at(899)) == 0


@pytest.mark.parametrize("quirks", [Quirks(max_periods=4)])
async def test_a_schedule_the_charger_cannot_hold_is_refused_with_the_reason(world: World) -> None:
    answer = await world.send(TOPIC, COMMAND)
    assert answer["accepted"] is False
    [error] = answer["errors"]
    assert "needs 5 charging schedule periods" in error["message"]
    assert "at most 4 (ChargingScheduleMaxPeriods)" in error["message"]


async def test_the_status_follows_the_connection_and_a_reconnecting_charger_gets_the_plan_again(world: World) -> None:
    [charger] = world.chargers
    await world.send(TOPIC, COMMAND)
    await charger.stop()
    status = await world.polled_until(lambda s: s["online"] is False)
    assert status["ready_for_schedule"] is False and status["state"] == "error"
    assert charger.limit_at(1, at(901)) == 10  # the charger kept its profile
    sent = len(charger.calls_of("SetChargingProfile"))
    await charger.start()
    await eventually(lambda: len(charger.calls_of("SetChargingProfile")) == sent + 2)
    assert charger.calls_of("SetChargingProfile")[-1]["valid_to"] == "2026-11-25T13:00:00Z"
    await world.polled_until(lambda s: s["online"] is True and s["state"] == "plugged_in")


async def test_twenty_charge_points_at_once(broker: Mosquitto, recorder: Recorder, tmp_path: Path) -> None:
    points = [charge_point(f"CP-{n:02d}", password=f"password-{n:02d}") for n in range(20)]
    async with world_for(broker, recorder, tmp_path, points, Quirks(), car=True) as world:
        answers = [
            await world.send(f"hems/ocpp/CP-{n:02d}-1", {**COMMAND, "command_id": f"plan-{n}"}) for n in range(20)
        ]
        assert all(a["accepted"] for a in answers), answers
        for charger in world.chargers:
            assert charger.limit_at(1, at(899)) == 0 and charger.limit_at(1, at(900)) == 10
            assert charger.limit_at(1, at(3600)) == 6 and charger.limit_at(1, at(5400)) == 0
        assert sorted(world.agent.device_keys) == [f"ocpp/CP-{n:02d}-1" for n in range(20)]
        for n in range(20):
            topic = f"hems/ocpp/CP-{n:02d}-1"
            await world.polled_until(lambda s: s["online"] and s["schedule_source"] == "hems", topic)


async def test_a_standalone_plan_reaches_the_charger_the_same_way(
    broker: Mosquitto, recorder: Recorder, tmp_path: Path
) -> None:
    zone = ZoneInfo("Europe/Amsterdam")
    curve = sample_curve([NOW.astimezone(zone).date(), (NOW + timedelta(days=1)).astimezone(zone).date()], zone)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(curve_json(curve, zone)))
    standalone = {"operation_mode": "standalone", "prices": {"source": "file", "path": str(prices)}}
    async with world_for(broker, recorder, tmp_path, [charge_point()], Quirks(), True, **standalone) as world:
        [charger] = world.chargers
        sent = len(charger.calls_of("SetChargingProfile"))
        # the plan made at start found no charger yet; the status poll that sees it online plans again
        await world.advance_to(STATUS_INTERVAL_S + 1)
        await eventually(lambda: len(charger.calls_of("SetChargingProfile")) > sent, timeout_s=10)
        plan = charger.calls_of("SetChargingProfile")[-1]
        assert curve.end is not None and plan["valid_to"] == curve.end.strftime("%Y-%m-%dT%H:%M:%SZ")
        policy = plugin_registry(energy_agent_ocpp.plugin).policies[DEFAULT_STANDALONE_POLICY]
        request = PlanRequest(prices=curve, now=world.clock.now(), timezone=zone, price_threshold_eur_kwh=0.25,
                              top_x_charge_count=16, max_current_a=16)  # fmt: skip
        periods = [p for p in policy.plan(request).periods if p.end > world.clock.now()]
        assert periods, "the sample prices give the policy something to plan"
        for period in periods:
            for edge in (period.start, period.end):
                for second in (-1, 0, 1):
                    when = edge + timedelta(seconds=second)
                    inside = any(p.start <= when < p.end for p in periods)
                    assert charger.limit_at(1, when) == (16 if inside else 0), when
        await world.polled_until(lambda s: s["schedule_source"] == "standalone" and s["online"])
