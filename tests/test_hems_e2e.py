"""HEMS mode end to end: a real Mosquitto, the Charge Amps simulator over real HTTP, and a running agent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy_agent.config import MqttSettings
from energy_agent.mqtt.bus import InboundMessage
from energy_agent.mqtt.request import send_command
from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder
from energy_agent_chargeamps.simulator import Fault, FaultMode
from tests.world import AMS, BASE, DELETE_ROUTE, PUT_ROUTE, World, eventually, world

# Wednesday 2026-11-25 10:00 in Amsterdam (09:00 UTC); the week starts Monday 2026-11-23 00:00 local.
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
WEEK_START_UTC = "2026-11-22T23:00:00Z"


def at(hours: float) -> str:
    """ISO time `hours` after NOW, with the Amsterdam offset."""
    return (NOW + timedelta(hours=hours)).isoformat()


def offset_s(hours_after_now: float) -> int:
    """Seconds from the week start (Monday 00:00 local) to NOW + hours."""
    return int(2 * 86400 + 10 * 3600 + hours_after_now * 3600)


SCHEDULE = {
    "source": "hems",
    "command_id": "cmd-1",
    "periods": [{"start": at(2), "end": at(3)}, {"start": at(5), "end": at(6.5)}],
    "max_current": 10,
    "expires_at": at(12),
}


@pytest.fixture
async def hems(broker: Broker, recorder: Recorder, tmp_path: Path) -> AsyncIterator[World]:
    async with world(broker, recorder, tmp_path, NOW) as w:
        await w.start_agent()
        yield w


async def test_valid_schedule_reaches_the_cloud_exactly_and_is_answered(hems: World) -> None:
    result = await hems.command(SCHEDULE)
    assert result == {
        "command_id": "cmd-1",
        "command": "set",
        "accepted": True,
        "reason": None,
        "retry": False,
        "errors": [],
        "warnings": [],
        "applied_at": "2026-11-25T09:00:00+00:00",
        "contract_version": "1.2",
    }
    assert hems.writes(PUT_ROUTE) == [
        {
            "scheduleId": None,
            "chargePointId": "HALO1",
            "connectorId": 1,
            "validFrom": None,
            "validTo": "2026-11-25T21:00:00Z",
            "defaultCurrent": 0,
            "isActive": True,
            "isSynced": True,
            "timeZone": "Europe/Amsterdam",
            "startOfSchedule": WEEK_START_UTC,
            "schedulePeriods": [
                {"from": offset_s(2), "to": offset_s(3), "maxCurrent": 10.0},
                {"from": offset_s(5), "to": offset_s(6.5), "maxCurrent": 10.0},
            ],
        }
    ]
    # the status published with the answer is the last one for this command
    await eventually(lambda: hems.status()["last_command_result"] == "accepted")
    status = hems.status()
    assert status["schedule_source"] == "hems"
    assert status["next_period_start"] == "2026-11-25T12:00:00+01:00"
    assert status["next_period_end"] == "2026-11-25T13:00:00+01:00"
    assert status["schedule_active"] is False
    assert status["last_hems_command_at"] == "2026-11-25T10:00:00+01:00"
    assert status["hems_connected"] is True
    assert status["last_command_id"] == "cmd-1"
    assert status["last_command_result"] == "accepted"
    assert hems.check_contracts() >= 4


INVALID = [
    (b"{not json", "$", "JSON"),
    (b"\xff\xfe\x00", "$", "UTF-8"),
    ({"source": "hems"}, "$", "periods"),
    ({**SCHEDULE, "periods": [{"start": at(3), "end": at(2)}]}, "$.periods[0]", "before"),
    ({**SCHEDULE, "periods": [{"start": at(24 * 8), "end": at(24 * 8 + 1)}], "expires_at": None}, "$.periods[0]", ""),
    ({**SCHEDULE, "max_current": 40}, "$.max_current", ""),
    ({**SCHEDULE, "expires_at": at(-1)}, "$.expires_at", ""),
    ({**SCHEDULE, "max_curent": 10}, "$", "max_curent"),
    ({**SCHEDULE, "contract_version": "2.0"}, "$.contract_version", ""),
    ({**SCHEDULE, "source": "standalone"}, "$.source", ""),
]


@pytest.mark.parametrize(("payload", "path", "words"), INVALID)
async def test_invalid_commands_are_refused_with_the_path_and_change_nothing(
    hems: World, payload: Any, path: str, words: str
) -> None:
    first = await hems.command(SCHEDULE)
    assert first["accepted"]
    writes_before = len(hems.sim.writes())
    result = await hems.command(payload)
    assert result["accepted"] is False
    assert result["applied_at"] is None
    assert any(e["path"].startswith(path) for e in result["errors"]), result["errors"]
    assert words.lower() in json.dumps(result["errors"]).lower()
    assert len(hems.sim.writes()) == writes_before, "a refused command must not reach the device"
    assert hems.agent is not None
    assert hems.agent.runtimes["charge-amps/1"].record.schedule is not None
    assert hems.agent.runtimes["charge-amps/1"].record.schedule.command_id == "cmd-1"
    await eventually(lambda: hems.status()["last_command_result"] == "refused")
    assert hems.status()["schedule_source"] == "hems"
    assert hems.status()["last_error"]
    hems.check_contracts()


async def test_duplicates_make_no_second_write_and_get_the_same_answer(hems: World) -> None:
    first = await hems.command(SCHEDULE)
    again = await hems.command(SCHEDULE)
    assert again == first
    no_id = {k: v for k, v in SCHEDULE.items() if k != "command_id"}
    third = await hems.command(no_id)
    assert third["accepted"] is True
    assert third["applied_at"] == first["applied_at"]
    assert len(hems.writes(PUT_ROUTE)) == 1


async def test_clear_deletes_once_and_stops_charging(hems: World) -> None:
    await hems.command(SCHEDULE)
    first = await hems.command({"command_id": "c1"}, topic=f"{BASE}/schedule/clear")
    second = await hems.command(b"", topic=f"{BASE}/schedule/clear")
    assert first["accepted"] is True
    assert first["command"] == "clear"
    assert second["accepted"] is True
    assert second["command_id"] is None
    assert len(hems.writes(DELETE_ROUTE)) == 1
    await eventually(lambda: hems.status()["schedule_source"] == "none")
    assert hems.status()["next_period_start"] is None
    hems.check_contracts()


async def test_expiry_clears_the_schedule_and_the_status_shows_it(hems: World) -> None:
    await hems.command({**SCHEDULE, "expires_at": at(2.5)})
    puts = hems.writes(PUT_ROUTE)
    # the period is cut at the expiry, and the cloud itself stops at validTo
    assert puts[0]["validTo"] == "2026-11-25T11:30:00Z"
    assert puts[0]["schedulePeriods"] == [{"from": offset_s(2), "to": offset_s(2.5), "maxCurrent": 10.0}]
    await hems.advance(2.5 * 3600 + 1, step_s=60)
    await eventually(lambda: len(hems.writes(DELETE_ROUTE)) == 1)
    await eventually(lambda: hems.status()["schedule_source"] == "none")


async def test_device_failure_is_refused_and_the_previous_schedule_stays(hems: World) -> None:
    await hems.command(SCHEDULE)
    hems.sim.inject(PUT_ROUTE, Fault.FORBIDDEN, mode=FaultMode.ALWAYS)
    result = await hems.command({**SCHEDULE, "command_id": "cmd-2", "max_current": 8})
    assert result["accepted"] is False
    assert "device refused" in result["errors"][0]["message"]
    assert hems.agent is not None
    assert hems.agent.runtimes["charge-amps/1"].record.schedule.command_id == "cmd-1"  # type: ignore[union-attr]


async def test_mqtt5_response_topic_gets_the_answer_with_correlation_data(hems: World) -> None:
    mqtt = MqttSettings(host=hems.broker.host, port=hems.broker.port)
    answer = await send_command(mqtt, f"{BASE}/schedule/set", json.dumps(SCHEDULE).encode(), timeout_s=5)
    assert answer["command_id"] == "cmd-1"
    assert answer["accepted"] is True


async def test_standalone_mode_refuses_hems_commands(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    async with world(broker, recorder, tmp_path, NOW) as w:
        await w.start_agent(operation_mode="standalone")
        result = await w.command(SCHEDULE)
        assert result["accepted"] is False
        assert "standalone" in result["errors"][0]["message"]
        assert w.writes(PUT_ROUTE) == []
        assert w.status()["ready_for_schedule"] is False


async def test_mode_switch_over_mqtt_clears_and_reports(hems: World) -> None:
    await hems.command(SCHEDULE)
    await hems.publish("hems/agent/operation_mode/set", b"standalone")
    reply = json.loads(await hems.recorder.wait_for("hems/agent/operation_mode/result"))
    assert reply["accepted"] is True
    assert reply["operation_mode"] == "standalone"
    await eventually(lambda: len(hems.writes(DELETE_ROUTE)) == 1)
    await eventually(lambda: hems.status()["operation_mode"] == "standalone")
    assert hems.status()["schedule_source"] == "none"
    refused = await hems.command(SCHEDULE)
    assert refused["accepted"] is False
    hems.check_contracts()


async def test_restart_restores_the_hems_schedule_without_rewriting(hems: World) -> None:
    await hems.command(SCHEDULE)
    await hems.stop_agent()
    await hems.start_agent()
    assert len(hems.writes(PUT_ROUTE)) == 1
    assert len(hems.writes(DELETE_ROUTE)) == 0
    await eventually(lambda: hems.status()["schedule_source"] == "hems")
    again = await hems.command(SCHEDULE)
    assert again["accepted"] is True
    assert len(hems.writes(PUT_ROUTE)) == 1


async def test_silent_hems_falls_back_to_standalone_and_a_command_takes_back_control(
    broker: Broker, recorder: Recorder, tmp_path: Path
) -> None:
    prices = Path(__file__).parent.parent / "examples" / "prices.json"
    async with world(broker, recorder, tmp_path, NOW) as w:
        await w.start_agent(
            hems={"timeout_s": 600, "fallback": "standalone"},
            prices={"source": "file", "path": str(prices)},
        )
        await w.publish("hems/controller/availability", b"online", retain=True)
        await eventually(lambda: w.agent is not None and w.agent.link.hems_connected)
        assert w.writes(PUT_ROUTE) == []
        await w.advance(601)
        await eventually(lambda: len(w.writes(PUT_ROUTE)) == 1)
        await eventually(lambda: w.status()["schedule_source"] == "standalone")
        assert w.status()["hems_connected"] is False
        assert w.status()["operation_mode"] == "hems"
        result = await w.command(SCHEDULE)
        assert result["accepted"] is True
        await eventually(lambda: w.status()["schedule_source"] == "hems")
        assert len(w.writes(PUT_ROUTE)) == 2
        assert w.writes(PUT_ROUTE)[-1]["schedulePeriods"][0]["maxCurrent"] == 10.0
        w.check_contracts()


async def test_controller_offline_drops_hems_connected_at_once(hems: World) -> None:
    await hems.publish("hems/controller/availability", b"online")
    assert hems.agent is not None
    await eventually(lambda: hems.agent is not None and hems.agent.link.hems_connected)
    await hems.publish("hems/controller/availability", b"offline")
    await eventually(lambda: hems.agent is not None and not hems.agent.link.hems_connected)


@pytest.fixture
async def fuzz_target(hems: World) -> World:
    await hems.command(SCHEDULE)
    return hems


near_schema = st.fixed_dictionaries(
    {
        "source": st.sampled_from(["hems", "standalone", "", None]),
        "periods": st.lists(
            st.fixed_dictionaries(
                {
                    "start": st.sampled_from([at(1), at(-1), "x", at(200), "2026-11-25T12:00:00"]),
                    "end": st.one_of(st.sampled_from([at(2), at(0.5), at(-0.5)]), st.integers()),
                }
            ),
            max_size=4,
        ),
    },
    optional={
        "max_current": st.one_of(st.floats(allow_nan=True), st.integers(-5, 50), st.text(max_size=3)),
        "expires_at": st.sampled_from([at(10), at(-10), "soon", None]),
        "command_id": st.one_of(st.text(max_size=70), st.integers()),
        "extra": st.integers(),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.one_of(st.binary(max_size=300), near_schema.map(lambda d: json.dumps(d).encode())))
async def test_fuzzed_payloads_never_crash_and_never_write_on_refusal(fuzz_target: World, payload: bytes) -> None:
    agent = fuzz_target.agent
    assert agent is not None
    runtime = agent.runtimes["charge-amps/1"]
    writes_before = len(fuzz_target.sim.writes())
    before = runtime.record.schedule
    await agent.hems.handle("charge-amps", "set", InboundMessage(topic=f"{BASE}/schedule/set", payload=payload))
    result = runtime.last_answer
    assert result is not None
    if not result["accepted"]:
        assert len(fuzz_target.sim.writes()) == writes_before
        assert runtime.record.schedule == before


async def test_a_changed_config_mode_at_start_clears_and_starts_fresh(hems: World) -> None:
    await hems.command(SCHEDULE)
    await hems.stop_agent()
    agent = await hems.start_agent(operation_mode="standalone")
    assert agent.modes.mode.value == "standalone"
    assert len(hems.writes(DELETE_ROUTE)) == 1
    assert agent.runtimes["charge-amps/1"].record.schedule is None
    await hems.stop_agent()
    # a run-time switch back to hems survives a restart while the config file stays unchanged
    agent = await hems.start_agent(operation_mode="standalone")
    await hems.publish("hems/agent/operation_mode/set", b"hems")
    await eventually(lambda: agent.modes.mode.value == "hems")
    await hems.stop_agent()
    agent = await hems.start_agent(operation_mode="standalone")
    assert agent.modes.mode.value == "hems"


async def test_a_start_stopped_during_the_config_mode_switch_switches_again(hems: World) -> None:
    """The config file's new mode is only taken up once the switch is done: a crash while the cloud is slow to
    clear leaves the next start to switch (and clear) again, instead of staying in the old mode."""
    await hems.command(SCHEDULE)
    await hems.stop_agent()
    hems.sim.inject(DELETE_ROUTE, Fault.SLOW, delay_s=30)
    hems.launch_agent(operation_mode="standalone")
    await eventually(lambda: len(hems.sim.requests(DELETE_ROUTE)) == 1, timeout_s=10)
    await hems.kill_agent()
    hems.sim.clear_faults()
    agent = await hems.start_agent(operation_mode="standalone")
    assert agent.modes.mode.value == "standalone"
    assert len(hems.writes(DELETE_ROUTE)) == 2
    assert agent.runtimes["charge-amps/1"].record.schedule is None


async def test_fallback_waits_the_timeout_after_start_when_the_hems_was_never_heard(
    broker: Broker, recorder: Recorder, tmp_path: Path
) -> None:
    prices = Path(__file__).parent.parent / "examples" / "prices.json"
    async with world(broker, recorder, tmp_path, NOW) as w:
        await w.start_agent(
            hems={"timeout_s": 600, "fallback": "standalone"},
            prices={"source": "file", "path": str(prices)},
        )
        assert w.status()["ready_for_schedule"] is True
        await w.advance(300)
        assert w.agent is not None
        assert not w.agent.modes.fallback_active
        assert w.writes(PUT_ROUTE) == []
        await w.advance(305)
        await eventually(lambda: len(w.writes(PUT_ROUTE)) == 1)
