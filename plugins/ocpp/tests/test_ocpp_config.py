"""The `ocpp:` section as the agent validates it, the listen port, and the CLI commands of the plugin."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ocpp_harness import PASSWORD, charge_point, context, running_devices, section

import energy_agent_ocpp.plugin
from energy_agent.api import ConfigError, SystemClock
from energy_agent.testing import eventually, free_port, load_config, plugin_registry
from energy_agent_ocpp.central import CentralSystem
from energy_agent_ocpp.config import OcppConfig
from energy_agent_ocpp.plugin import create_connectors


def problems(ocpp: dict[str, Any]) -> list[str]:
    registry = plugin_registry(energy_agent_ocpp.plugin)
    with pytest.raises(ConfigError) as caught:
        load_config({"ocpp": ocpp}, registry)
    return caught.value.problems


def test_register_device_types_takes_the_documented_section_with_defaults() -> None:
    registry = plugin_registry(energy_agent_ocpp.plugin)
    assert registry.device_types["ocpp"].config_section == "ocpp"
    ocpp = {"charge_points": [{"id": "HALO-123456", "password": PASSWORD, "connectors": [1], "max_current_a": 16}]}
    settings = load_config({"ocpp": ocpp}, registry)
    config = settings.section("ocpp")
    assert isinstance(config, OcppConfig)
    assert (config.listen.host, config.listen.port, config.tls, config.limit_after_expiry_a) == (
        "0.0.0.0",
        9000,
        None,
        0,
    )
    [device] = create_connectors(config, context(SystemClock()))
    assert (device.device_type, device.topic_id, device.name) == ("ocpp", "HALO-123456-1", "HALO-123456 connector 1")
    assert device.capabilities.control_strategy == "schedule" and device.capabilities.max_current_a == 16
    assert PASSWORD not in repr(config)


@pytest.mark.parametrize(
    ("ocpp", "expected"),
    [
        ({"charge_points": []}, "ocpp.charge_points: List should have at least 1 item after validation, not 0"),
        ({"charge_points": [{"id": "HALO-1"}]}, "ocpp.charge_points.0.password: Field required"),
        ({"charge_points": [charge_point("bad id")]}, "ocpp.charge_points.0.id: String should match pattern"),
        ({"charge_points": [charge_point(connectors=[0])]}, "connectors: connector ids start at 1"),
        ({"charge_points": [charge_point("CP.1")]}, "topic id 'CP.1-1' of connector 1 may hold only"),
        ({"charge_points": [charge_point(topic_ids={2: "x"})]}, "topic_ids names connector(s) [2]"),
        ({"charge_points": [charge_point(), charge_point()]}, "charge point ids must be unique; repeated: HALO-123456"),
        ({"charge_points": [charge_point(max_current_a=10)], "limit_after_expiry_a": 16}, "above max_current_a of"),
        ({"charge_points": [charge_point()], "listen": {"prot": 9000}}, "ocpp.listen.prot: unknown key"),
        ({"charge_points": [charge_point()], "tls": {"cert_file": "/nonexistent.pem", "key_file": "/k.pem"}},
         "ocpp.tls.cert_file: /nonexistent.pem is not a readable file"),
    ],
)  # fmt: skip
def test_a_wrong_section_is_refused_with_the_key_path_and_no_secret(ocpp: dict[str, Any], expected: str) -> None:
    found = problems(ocpp)
    assert any(expected in line for line in found), found
    assert all(PASSWORD not in line for line in found)


def test_a_topic_id_from_the_config_is_used() -> None:
    config = OcppConfig.model_validate(section(9, charge_point("CP.1", topic_ids={1: "garage"})))
    [device] = create_connectors(config, context(SystemClock()))
    assert device.topic_id == "garage"


async def test_a_taken_port_stops_the_agent_with_a_config_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        central = CentralSystem(OcppConfig.model_validate(section(port)), SystemClock())
        with pytest.raises(ConfigError) as caught:
            await central.start()
    assert caught.value.problems == [f"ocpp.listen: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_check_config_masks_the_password(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text(
        "health: {port: 0}\n"
        f"ocpp:\n  charge_points:\n    - {{id: HALO-123456, password: {PASSWORD}, connectors: [1]}}\n"
    )
    shown = subprocess.run(
        [sys.executable, "-m", "energy_agent", "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "HALO-123456" in shown.stdout and PASSWORD not in shown.stdout + shown.stderr


async def test_register_commands_runs_a_simulated_charger_against_the_central_system() -> None:
    port = free_port()
    async with running_devices(SystemClock(), section(port)) as [device]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "energy_agent", "ocpp", "simulate", "--url", f"ws://127.0.0.1:{port}",
            "--id", "HALO-123456", "--car-max-current", "13", "--duration", "4",
            env={**os.environ, "ENERGY_AGENT_OCPP_PASSWORD": PASSWORD},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        await eventually(lambda: device.link.ready, timeout_s=20)
        stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    assert any(line.startswith("online | connector 1: limit 0 A (TxDefaultProfile 1001, stack 0)") for line in lines)
    assert PASSWORD not in stdout.decode() + stderr.decode()
