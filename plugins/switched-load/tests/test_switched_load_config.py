"""The `switched_load:` section through the core's config loader: drivers, defaults, errors, secrets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from energy_agent.api import ConfigError, DeviceContext, PolicyOptionsSource
from energy_agent.testing import CoreSettings, ManualClock, NoMqtt, Registry, load_config, plugin_registry
from energy_agent_switched_load import plugin
from energy_agent_switched_load.config import HomeAssistantLoadConfig, MqttLoadConfig, SwitchedLoadConfig
from energy_agent_switched_load.device import SwitchedLoad
from energy_agent_switched_load.drivers import HomeAssistantSwitch, MqttSwitch

HA = {"id": "boiler", "power_kw": 2, "driver": "home_assistant", "entity_id": "switch.boiler"}
MQTT = {"id": "pump", "power_kw": 0.75, "driver": "mqtt", "command_topic": "pool/cmnd/POWER"}


@pytest.fixture
def registry() -> Registry:
    return plugin_registry(plugin)


def load(registry: Registry, *loads: dict[str, Any]) -> CoreSettings:
    return load_config({"switched_load": {"loads": list(loads)}}, registry)


def problems(registry: Registry, *loads: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(registry, *loads)
    return caught.value.problems


def test_both_drivers_with_their_defaults(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPERVISOR_TOKEN", raising=False)
    settings = load(registry, {**HA, "token": "tok-123", "url": "http://ha.local:8123/api/"}, MQTT)
    section = settings.section("switched_load")
    assert isinstance(section, SwitchedLoadConfig)
    ha, mqtt = section.loads
    assert isinstance(ha, HomeAssistantLoadConfig) and isinstance(mqtt, MqttLoadConfig)
    assert ha.url == "http://ha.local:8123/api" and ha.display_name == "boiler" and ha.hours_per_day == 4
    assert (mqtt.payload_on, mqtt.payload_off, mqtt.state_topic, mqtt.retain) == ("ON", "OFF", None, False)
    assert "tok-123" not in str(settings.model_dump(mode="json"))


def test_supervisor_token_comes_from_the_environment(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERVISOR_TOKEN", "from-supervisor")
    ha = load(registry, HA).section("switched_load").loads[0]
    assert ha.url == "http://supervisor/core/api" and ha.token.get_secret_value() == "from-supervisor"
    monkeypatch.delenv("SUPERVISOR_TOKEN")
    assert problems(registry, HA) == [
        "switched_load.loads.0.home_assistant: token: required to call the Home Assistant API "
        "($SUPERVISOR_TOKEN is not set)"
    ]


@pytest.mark.parametrize(
    ("load_config", "expected"),
    [
        ({**MQTT, "driver": "zigbee"}, "switched_load.loads.0: Input tag 'zigbee' found using 'driver' does not match"),
        ({**MQTT, "id": "a/b"}, "switched_load.loads.0.mqtt.id: String should match pattern"),
        ({**MQTT, "power_kw": 0}, "switched_load.loads.0.mqtt.power_kw: Input should be greater than 0"),
        ({**MQTT, "hours_per_day": 25}, "switched_load.loads.0.mqtt.hours_per_day: Input should be less than or equal"),
        ({**MQTT, "command_topic": "a/#"}, "switched_load.loads.0.mqtt.command_topic: must be a single topic"),
        ({**MQTT, "payload_off": "ON"}, "switched_load.loads.0.mqtt: payload_on and payload_off must differ"),
        ({**MQTT, "colour": "red"}, "switched_load.loads.0.mqtt.colour: unknown key"),
        ({**HA, "token": "t", "entity_id": "boiler"}, "switched_load.loads.0.home_assistant.entity_id: must look like"),
        ({**HA, "token": "t", "url": "ha.local"}, "switched_load.loads.0.home_assistant.url: must start with http"),
        (
            {**MQTT, "policy": "ready-by", "ready_by": "07:00"},
            "switched_load.loads.0.mqtt: policy ready-by needs",
        ),
        ({**MQTT, "ready_by": "7:60"}, "switched_load.loads.0.mqtt.ready_by: String should match pattern"),
    ],
)
def test_each_fault_names_its_key(registry: Registry, load_config: dict[str, Any], expected: str) -> None:
    found = problems(registry, load_config)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_ids_must_be_unique(registry: Registry) -> None:
    assert problems(registry, MQTT, {**MQTT, "command_topic": "other"}) == [
        "switched_load: load ids must be unique; repeated: pump"
    ]


def test_devices_are_built_with_the_driver_their_config_names(registry: Registry, tmp_path: Path) -> None:
    section = load(registry, {**HA, "token": "t", "hours_per_day": 2, "price_cap_eur_kwh": 0.2}, MQTT).section(
        "switched_load"
    )
    context = DeviceContext(ManualClock(datetime(2026, 1, 1, tzinfo=UTC)), ZoneInfo("UTC"), tmp_path, NoMqtt())
    device_type = registry.device_types["switched-load"]
    assert device_type.default_policy == "cheapest-hours" and "cheapest-hours" in registry.policies
    devices = device_type.create(section, context)
    assert isinstance(devices, list)
    ha, mqtt = devices
    assert isinstance(ha, SwitchedLoad) and isinstance(mqtt, SwitchedLoad)
    assert isinstance(ha.switch, HomeAssistantSwitch) and isinstance(mqtt.switch, MqttSwitch)
    assert isinstance(ha, PolicyOptionsSource)
    assert dict(ha.policy_options) == {
        "hours_per_day": 2,
        "price_cap_eur_kwh": 0.2,
        "policy": "cheapest-hours",
        "ready_by": None,
        "energy_kwh": None,
    }
    assert (ha.topic_id, mqtt.name, mqtt.capabilities.extra) == ("boiler", "pump", {"power_kw": 0.75, "driver": "mqtt"})
