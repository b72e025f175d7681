"""`api: ocpp`: a Charge Amps charger driven through the agent's OCPP central system on its `hems/charge-amps/…`
topics. A whole agent, a real Mosquitto and the OCPP charge point simulator over real websockets; time is a
ManualClock shared by the agent and the charger.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from typer.testing import CliRunner

import energy_agent_chargeamps.plugin
from energy_agent.api import ConfigError
from energy_agent.testing import (
    ManualClock,
    Mosquitto,
    Recorder,
    RunningAgent,
    cli_app,
    contract_problems,
    eventually,
    free_port,
    load_config,
    plugin_registry,
    running_agent,
)
from energy_agent_ocpp.simulator import Car, ChargerSimulator

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PASSWORD = "correct-horse-battery-staple"
TOPIC = "hems/charge-amps/1"


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def chargeamps_section(port: int, **overrides: Any) -> dict[str, Any]:
    """The `chargeamps:` section of a HALO connected to the agent over OCPP."""
    return {
        "api": "ocpp",
        "charge_point_id": "HALO-123456",
        "max_current_a": 16,
        "ocpp": {"listen": {"host": "127.0.0.1", "port": port}, "password": PASSWORD, "response_timeout_s": 2},
        **overrides,
    }


def agent_config(broker: Mosquitto, tmp_path: Path, port: int) -> dict[str, Any]:
    return {
        "operation_mode": "hems",
        "timezone": "Europe/Amsterdam",
        "state_dir": str(tmp_path / "state"),
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.05, "reconnect_max_s": 0.2},
        "health": {"port": 0},
        "web": {"port": 0},
        "chargeamps": chargeamps_section(port),
    }


async def send(broker: Mosquitto, recorder: Recorder, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Publish a HEMS command as a HEMS does; the agent's answer to it."""
    results = f"{TOPIC}/schedule/result"
    before = len(recorder.payloads(results))
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.publish(f"{TOPIC}/schedule/{kind}", json.dumps(payload), qos=1)
    await eventually(lambda: len(recorder.payloads(results)) > before, timeout_s=10)
    answer: dict[str, Any] = recorder.json(results)[before]
    return answer


@pytest.fixture
async def halo(
    broker: Mosquitto, recorder: Recorder, tmp_path: Path
) -> AsyncIterator[tuple[RunningAgent, ChargerSimulator]]:
    """The agent with `chargeamps: {api: ocpp}`, and a simulated HALO with a car, connected to it."""
    clock = ManualClock(NOW)
    port = free_port()
    registry = plugin_registry(energy_agent_chargeamps.plugin)
    async with running_agent(agent_config(broker, tmp_path, port), registry=registry, clock=clock) as agent:
        charger = ChargerSimulator(
            f"ws://127.0.0.1:{port}", "HALO-123456", PASSWORD, clock=clock, reconnect_delay_s=0.05
        )
        await charger.plug_in(1, Car())
        await charger.start()
        try:
            await charger.wait_connected()
            await eventually(lambda: len(charger.calls_of("TriggerMessage")) == 1, timeout_s=10)
            yield agent, charger
        finally:
            await charger.stop()


async def test_a_hems_command_on_the_charge_amps_topic_reaches_the_charger_as_its_profile(
    halo: tuple[RunningAgent, ChargerSimulator], broker: Mosquitto, recorder: Recorder
) -> None:
    agent, charger = halo
    assert agent.device_keys == ["charge-amps/1"]
    command = {
        "source": "hems",
        "command_id": "plan-1",
        "periods": [
            {"start": at(900).isoformat(), "end": at(2700).isoformat()},
            {"start": at(3600).isoformat(), "end": at(5400).isoformat(), "max_current": 6},
        ],
        "max_current": 10,
        "expires_at": at(4 * 3600).isoformat(),
    }
    answer = await send(broker, recorder, "set", command)
    assert answer["accepted"] is True and answer["command_id"] == "plan-1", answer
    plan = charger.calls_of("SetChargingProfile")[-1]
    assert plan["charging_profile_purpose"] == "TxDefaultProfile" and plan["valid_to"] == "2026-11-25T13:00:00Z"
    wanted = [(0, 0.0), (900, 10.0), (2700, 0.0), (3600, 6.0), (5400, 0.0), (4 * 3600, 0.0)]
    for edge, _ in wanted:
        for second in (-1, 0, 1):
            if edge + second < 0:
                continue
            limit = next(limit for start, limit in reversed(wanted) if start <= edge + second)
            assert charger.limit_at(1, at(edge + second)) == limit, edge + second
    # a Charge Amps device on its usual topics, which reads back what the charger will do
    capabilities = recorder.json(f"{TOPIC}/capabilities")[-1]
    assert capabilities["device_type"] == "charge-amps" and capabilities["topic_id"] == "1"
    assert capabilities["control_strategy"] == "schedule" and capabilities["reads_back"] is True
    await eventually(lambda: recorder.json(f"{TOPIC}/status")[-1]["last_command_id"] == "plan-1")
    status = recorder.json(f"{TOPIC}/status")[-1]
    assert status["schedule_source"] == "hems" and contract_problems("hems/v1/status", status) == []
    answer = await send(broker, recorder, "clear", {"command_id": "stop"})
    assert answer["accepted"] is True
    assert all(charger.limit_at(1, at(seconds)) == 0 for seconds in (0, 901, 3601, 86400))


async def test_a_wrong_password_is_refused_at_the_handshake(
    halo: tuple[RunningAgent, ChargerSimulator], caplog: pytest.LogCaptureFixture
) -> None:
    _, charger = halo
    stranger = ChargerSimulator(
        charger.url, "HALO-123456", "not-the-password", clock=charger.clock, reconnect_delay_s=60
    )
    await stranger.start()
    try:
        await eventually(lambda: stranger.refusal is not None, timeout_s=10)
    finally:
        await stranger.stop()
    assert stranger.refusal == "HTTP 401"
    assert "wrong password for 'HALO-123456'" in caplog.text
    assert PASSWORD not in caplog.text and "not-the-password" not in caplog.text


def test_the_config_names_what_api_ocpp_needs_and_masks_the_password(tmp_path: Path) -> None:
    registry = plugin_registry(energy_agent_chargeamps.plugin)
    with pytest.raises(ConfigError) as caught:
        load_config({"chargeamps": {"api": "ocpp", "email": "me@example.com", "password": "x"}}, registry)
    [problem] = caught.value.problems
    assert problem.startswith("chargeamps: email, password: not used with api: ocpp"), problem
    with pytest.raises(ConfigError) as caught:
        load_config({"chargeamps": chargeamps_section(9000, charge_point_id="HALO 1")}, registry)
    assert "charge_point_id: String should match pattern" in caught.value.problems[0]
    config = tmp_path / "agent.yaml"
    config.write_text(json.dumps({"chargeamps": chargeamps_section(9000)}))
    result = CliRunner().invoke(cli_app(energy_agent_chargeamps.plugin), ["check-config", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output and "api: ocpp" in result.output
