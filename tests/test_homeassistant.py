"""Home Assistant: discovery payloads (checked against HA's rules and pinned by a snapshot), the birth message,
removal of a gone device, and the controls over a real Mosquitto (validated, persisted, re-planned, refused).

Regenerate the snapshot and the entity tables of docs/home-assistant.md with ENERGY_AGENT_UPDATE_SNAPSHOTS=1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from energy_agent.app.compose import build_agent
from energy_agent.app.plugins import Registry, collect, get_plugin_manager
from energy_agent.config import CoreSettings, StandaloneSettings, load_settings
from energy_agent.hems.contracts import validate
from energy_agent.hems.topics import Topics
from energy_agent.homeassistant.controls import parse_setting
from energy_agent.homeassistant.discovery import (
    DeviceInfo,
    DiscoveryContext,
    checked_id,
    discovery_messages,
    entity_slug,
    stale_nodes,
)
from energy_agent.homeassistant.entities import (
    AGENT_ENTITIES,
    DEVICE_ENTITIES,
    PRICE_THRESHOLD_RANGE,
    TOP_X_RANGE,
    entity_table,
)
from energy_agent.prices.health import STATES as PRICE_STATES
from energy_agent.runtime.agent import Agent
from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder
from tests import fake_plugin

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = Path(__file__).parent / "snapshots" / "homeassistant_discovery.json"
DOCS = ROOT / "docs" / "home-assistant.md"
EXAMPLES = ROOT / "contracts" / "hems" / "v1" / "examples" / "valid"
UPDATE = os.environ.get("ENERGY_AGENT_UPDATE_SNAPSHOTS") == "1"

# What Home Assistant accepts (homeassistant.components.sensor / binary_sensor and homeassistant.const, 2025.x).
SENSOR_DEVICE_CLASSES = {
    "absolute_humidity", "apparent_power", "aqi", "area", "atmospheric_pressure", "battery",
    "blood_glucose_concentration", "carbon_dioxide", "carbon_monoxide", "conductivity", "current", "data_rate",
    "data_size", "date", "distance", "duration", "energy", "energy_distance", "energy_storage", "enum", "frequency",
    "gas", "humidity", "illuminance", "irradiance", "moisture", "monetary", "nitrogen_dioxide", "nitrogen_monoxide",
    "nitrous_oxide", "ozone", "ph", "pm1", "pm10", "pm25", "pm4", "power", "power_factor", "precipitation",
    "precipitation_intensity", "pressure", "reactive_energy", "reactive_power", "signal_strength", "sound_pressure",
    "speed", "sulphur_dioxide", "temperature", "timestamp", "volatile_organic_compounds",
    "volatile_organic_compounds_parts", "voltage", "volume", "volume_flow_rate", "volume_storage", "water", "weight",
    "wind_direction", "wind_speed",
}  # fmt: skip
BINARY_SENSOR_DEVICE_CLASSES = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door", "gas", "heat",
    "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug", "power", "presence", "problem",
    "running", "safety", "smoke", "sound", "tamper", "update", "vibration", "window",
}  # fmt: skip
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
ENTITY_CATEGORIES = {"config", "diagnostic"}
UNITS_BY_DEVICE_CLASS = {
    "power": {"mW", "W", "kW", "MW", "GW", "TW", "BTU/h"},
    "energy": {"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"},
}
STATE_CLASSES_BY_DEVICE_CLASS = {"power": {"measurement"}, "energy": {"total", "total_increasing"}}
PLATFORMS = {"sensor", "binary_sensor", "select", "number", "switch", "text", "button"}
ID = re.compile(r"^[a-zA-Z0-9_-]+$")
TOPIC = re.compile(r"^homeassistant/device/[a-zA-Z0-9_-]+/config$")

CONTEXT = DiscoveryContext(topics=Topics("hems"), discovery_prefix="homeassistant", sw_version="0.0.0-test")
DEVICES = [DeviceInfo("charge-amps", "1", "Charge Amps 1"), DeviceInfo("charge-amps", "2", "Charge Amps 2")]


def all_payloads() -> dict[str, dict[str, Any]]:
    return {m.topic: m.payload for m in discovery_messages(DEVICES, CONTEXT)}


# -- pure discovery --------------------------------------------------------------------------------
def test_discovery_matches_the_snapshot() -> None:
    payloads = all_payloads()
    text = json.dumps(payloads, indent=2, sort_keys=True) + "\n"
    if UPDATE:
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(text)
    assert SNAPSHOT.read_text() == text, (
        "discovery changed; check it and regenerate with ENERGY_AGENT_UPDATE_SNAPSHOTS=1"
    )


def test_every_payload_has_the_device_based_shape() -> None:
    unique_ids: list[str] = []
    entity_ids: list[str] = []
    for topic, payload in all_payloads().items():
        assert TOPIC.fullmatch(topic), topic
        node_id = topic.split("/")[2]
        assert payload["dev"]["ids"] == [node_id] and payload["dev"]["name"]
        assert payload["o"]["name"] == "energy-agent" and payload["o"]["sw"] == "0.0.0-test"
        assert payload["availability"] == [
            {"topic": "hems/agent/availability", "payload_available": "online", "payload_not_available": "offline"}
        ]
        assert payload["state_topic"].startswith("hems/") and payload["qos"] == 1
        assert payload["cmps"], topic
        for component_id, component in payload["cmps"].items():
            assert ID.fullmatch(component_id)
            assert component["p"] in PLATFORMS
            assert {"p", "name", "unique_id", "default_entity_id"} <= component.keys()
            if component["p"] == "button":
                assert component["payload_press"] == node_id.removeprefix("energy_agent_").replace("_", "/", 1)
                assert component["command_topic"] == "hems/agent/settings/charge_now/set"
            else:
                assert "value_template" in component
            assert "object_id" not in component, "object_id is deprecated; default_entity_id replaces it"
            assert ID.fullmatch(component["unique_id"]) and component["unique_id"] == f"{node_id}_{component_id}"
            assert re.fullmatch(rf"{component['p']}\.[a-z0-9]+(_[a-z0-9]+)*", component["default_entity_id"])
            unique_ids.append(component["unique_id"])
            entity_ids.append(component["default_entity_id"])
    assert len(unique_ids) == len(set(unique_ids)) == 2 * len(DEVICE_ENTITIES) + len(AGENT_ENTITIES)
    assert len(entity_ids) == len(set(entity_ids))


def check_component(component: dict[str, Any]) -> None:
    """Home Assistant's rules for one component."""
    platform = component["p"]
    device_class = component.get("device_class")
    state_class = component.get("state_class")
    unit = component.get("unit_of_measurement")
    category = component.get("entity_category")
    if category is not None:
        assert category in ENTITY_CATEGORIES
    if platform == "sensor":
        assert category != "config", "a sensor cannot be a config entity"
        assert device_class is None or device_class in SENSOR_DEVICE_CLASSES
        assert state_class is None or state_class in STATE_CLASSES
        if device_class in ("enum", "timestamp"):
            assert unit is None and state_class is None
        if device_class == "enum":
            assert component["options"]
        if device_class in UNITS_BY_DEVICE_CLASS:
            assert unit in UNITS_BY_DEVICE_CLASS[device_class]
            assert state_class in STATE_CLASSES_BY_DEVICE_CLASS[device_class]
    elif platform == "binary_sensor":
        assert device_class is None or device_class in BINARY_SENSOR_DEVICE_CLASSES
        assert unit is None and state_class is None
    else:
        assert "command_topic" in component
        if platform == "select":
            assert component["options"]
        if platform == "number":
            assert component["min"] < component["max"] and component["step"] > 0 and component["mode"] == "box"
        if platform == "switch":
            assert (component["payload_on"], component["payload_off"]) == ("ON", "OFF")


def test_classes_units_and_controls_follow_home_assistant_rules() -> None:
    for payload in all_payloads().values():
        for component in payload["cmps"].values():
            check_component(component)
    by_key = {c["unique_id"]: c for p in all_payloads().values() for c in p["cmps"].values()}
    power = by_key["energy_agent_charge-amps_1_current_power"]
    assert (power["device_class"], power["unit_of_measurement"], power["state_class"]) == ("power", "kW", "measurement")
    session = by_key["energy_agent_charge-amps_1_session_energy"]
    assert (session["device_class"], session["unit_of_measurement"], session["state_class"]) == (
        "energy",
        "kWh",
        "total",
    )
    total = by_key["energy_agent_charge-amps_1_total_energy"]
    assert total["state_class"] == "total_increasing"
    assert by_key["energy_agent_operation_mode"]["command_topic"] == "hems/agent/operation_mode/set"
    assert by_key["energy_agent_price_threshold"]["command_topic"] == "hems/agent/settings/price_threshold/set"
    assert by_key["energy_agent_price_threshold"]["unit_of_measurement"] == "EUR/kWh"
    assert by_key["energy_agent_standalone_paused"]["command_topic"] == "hems/agent/settings/paused/set"


def test_number_bounds_are_the_config_models() -> None:
    def bounds(name: str) -> tuple[float, float]:
        metadata = StandaloneSettings.model_fields[name].metadata
        return (
            next(m.ge for m in metadata if hasattr(m, "ge")),
            next(m.le for m in metadata if hasattr(m, "le")),
        )

    assert bounds("price_threshold") == (PRICE_THRESHOLD_RANGE.min_value, PRICE_THRESHOLD_RANGE.max_value)
    assert bounds("top_x_charge_count") == (TOP_X_RANGE.min_value, TOP_X_RANGE.max_value)


def test_ids_for_another_prefix_and_bad_ids() -> None:
    context = DiscoveryContext(topics=Topics("site/a"), discovery_prefix="ha")
    messages = discovery_messages([DeviceInfo("charge-amps", "garage_1", "Garage")], context)
    assert [m.topic for m in messages] == [
        "ha/device/energy_agent_site_a/config",
        "ha/device/energy_agent_site_a_charge-amps_garage_1/config",
    ]
    component = messages[1].payload["cmps"]["state"]
    assert component["default_entity_id"] == "sensor.energy_agent_site_a_charge_amps_garage_1_state"
    assert messages[1].payload["dev"]["via_device"] == "energy_agent_site_a"
    assert entity_slug("A--b__C") == "a_b_c"
    with pytest.raises(ValueError, match="not a valid discovery id"):
        checked_id("bad id/x")
    assert stale_nodes(["a", "b_x_1", "c"], ["a"], ("b_x_",)) == ["c"]


def render(template: str, value: dict[str, Any]) -> str:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    return env.from_string(template).render(value_json=value)


def check_rendered(component: dict[str, Any], text: str) -> None:
    """The rendered state is one Home Assistant takes for this component ("None" means unknown)."""
    platform, device_class = component["p"], component.get("device_class")
    if platform in ("binary_sensor", "switch"):
        assert text in ("ON", "OFF")
    elif text == "None":
        assert platform in ("sensor", "number", "text")
    elif platform == "text":
        assert re.fullmatch(component["pattern"], text)
    elif device_class == "timestamp":
        assert datetime.fromisoformat(text).tzinfo is not None
    elif "options" in component:
        assert text in component["options"]
    elif platform == "number" or "state_class" in component:
        float(text)
    else:
        assert 0 < len(text) <= 255


def status_samples() -> list[dict[str, Any]]:
    full = json.loads((EXAMPLES / "status.all-fields.json").read_text())
    empty = {**full, **{k: None for k in ("next_period_start", "next_period_end", "session_energy_kwh")}}
    empty.update(last_hems_command_at=None, last_command_result=None, total_energy_kwh=None, hems_connected=False)
    failing = {**full, "state": "error", "last_error": "cloud timeout " * 40, "last_command_result": "refused"}
    samples = [full, empty, failing]
    for sample in samples:
        assert validate("hems/v1/status", sample) == []
    return samples


READY_BY_STATUS = {
    **json.loads((EXAMPLES / "status.all-fields.json").read_text()),
    **json.loads((EXAMPLES / "status.ready-by-shortfall.json").read_text()),
}
BASE_SETTINGS = {
    "operation_mode": "standalone",
    "price_threshold": 0.25,
    "top_x_charge_count": 16,
    "paused": False,
    "policy": "unique-price-levels",
    "ready_by": None,
    "departure_once": None,
    "energy_kwh": None,
    "target_soc": None,
}
SETTINGS_SAMPLES = (
    BASE_SETTINGS,
    {**BASE_SETTINGS, "operation_mode": "hems", "price_threshold": None, "top_x_charge_count": 3, "paused": True},
    {**BASE_SETTINGS, "policy": "ready-by", "ready_by": "07:00", "energy_kwh": 22.0},
)


def test_value_templates_render_contract_payloads() -> None:
    payloads = all_payloads()
    device = payloads["homeassistant/device/energy_agent_charge-amps_1/config"]["cmps"]
    on_status = [c for c in device.values() if "state_topic" not in c and c["p"] != "button"]
    on_settings = [c for c in device.values() if c.get("state_topic") == "hems/agent/settings"]
    assert on_settings, "the ready-by controls read the settings topic"
    for sample in [*status_samples(), READY_BY_STATUS]:
        for component in on_status:
            check_rendered(component, render(component["value_template"], sample))
    agent = payloads["homeassistant/device/energy_agent/config"]["cmps"]
    for settings in SETTINGS_SAMPLES:
        for component in [*(c for c in agent.values() if "state_topic" not in c), *on_settings]:
            check_rendered(component, render(component["value_template"], settings))
    prices = agent["price_data"]
    assert prices["state_topic"] == prices["json_attributes_topic"] == "hems/agent/prices"
    for state in PRICE_STATES:
        check_rendered(prices, render(prices["value_template"], {"state": state, "last_error": None}))


@pytest.mark.parametrize(
    ("setting", "payload", "expected"),
    [
        ("price_threshold", b"0.18", 0.18),
        ("price_threshold", b" -0.05 ", -0.05),
        ("top_x_charge_count", b"5", 5),
        ("top_x_charge_count", b"5.0", 5),
        ("paused", b"ON", True),
        ("paused", b"off", False),
        ("ready_by", b" 07:00 ", "07:00"),
        ("policy", b"ready-by", "ready-by"),
        ("energy_kwh", b"22.5", 22.5),
        ("target_soc", b"80", 80.0),
        ("departure_once", b"2026-11-26T06:30:00+01:00", "2026-11-26T06:30:00+01:00"),
        ("departure_once", b"none", None),
        ("charge_now", b"charge-amps/1", "charge-amps/1"),
    ],
)
def test_parse_setting_accepts(setting: str, payload: bytes, expected: Any) -> None:
    assert parse_setting(setting, payload) == expected


@pytest.mark.parametrize(
    ("setting", "payload", "reason"),
    [
        ("price_threshold", b"cheap", "not a number"),
        ("price_threshold", b"nan", "not a finite number"),
        ("top_x_charge_count", b"2.5", "not a whole number"),
        ("paused", b"maybe", "not ON or OFF"),
        ("paused", b"\xff", "not UTF-8"),
        ("price_threshold", b"1" * 100, "at most"),
        ("nonsense", b"1", "unknown setting"),
        ("ready_by", b"07:00\x1b[2J", "control characters"),
        ("energy_kwh", b"lots", "not a number"),
    ],
)
def test_parse_setting_refuses(setting: str, payload: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_setting(setting, payload)


def test_docs_table_is_generated_from_the_descriptions() -> None:
    text = DOCS.read_text()
    for name, descriptions in (("device", DEVICE_ENTITIES), ("agent", AGENT_ENTITIES)):
        start, end = f"<!-- entities:{name}:start -->\n", f"<!-- entities:{name}:end -->"
        before, _, rest = text.partition(start)
        current, _, after = rest.partition(end)
        assert before and after, f"markers {start.strip()} … {end} missing in {DOCS.name}"
        if UPDATE:
            text = before + start + entity_table(descriptions) + end + after
        else:
            assert current == entity_table(descriptions), f"regenerate with ENERGY_AGENT_UPDATE_SNAPSHOTS=1 ({name})"
    if UPDATE:
        DOCS.write_text(text)


# -- against Mosquitto -----------------------------------------------------------------------------
def settings_for(broker: Broker, tmp_path: Path, topic_ids: list[str], **extra: Any) -> tuple[CoreSettings, Registry]:
    pm = get_plugin_manager(load_entry_points=False)
    pm.register(fake_plugin, name="fake")
    document: dict[str, Any] = {
        "state_dir": str(tmp_path / "state"),
        "timezone": "Europe/Amsterdam",
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.05, "reconnect_max_s": 0.2},
        "health": {"port": 0},
        "web": {"port": 0},
        "fake": {"topic_ids": topic_ids},
        **extra,
    }
    registry = collect(pm)
    return load_settings(registry, data=document, environ=False), registry


@asynccontextmanager
async def running(settings: CoreSettings, registry: Registry) -> AsyncIterator[Agent]:
    agent = build_agent(settings, registry)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    started = asyncio.create_task(agent.started.wait())
    try:
        done, _ = await asyncio.wait({task, started}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        assert started in done, "the agent did not start"
        yield agent
    finally:
        started.cancel()
        stop.set()
        await task


async def count_reaches(recorder: Recorder, topic: str, count: int, timeout_s: float = 5.0) -> bytes:
    """Wait until `topic` has had `count` messages; the last one."""
    async with asyncio.timeout(timeout_s):
        while len(recorder.payloads(topic)) < count:
            await asyncio.sleep(0.01)
    return recorder.payloads(topic)[-1]


async def publish(broker: Broker, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.publish(topic, payload, qos=1, retain=retain)


AGENT_CONFIG = "homeassistant/device/energy_agent/config"
SETTINGS = "hems/agent/settings"


def node_topic(topic_id: str) -> str:
    return f"homeassistant/device/energy_agent_fake_{topic_id}/config"


async def test_discovery_states_and_birth_republish(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings, registry = settings_for(broker, tmp_path, ["1", "2"])
    async with running(settings, registry):
        agent_config = json.loads(await count_reaches(recorder, AGENT_CONFIG, 1))
        device_config = json.loads(await count_reaches(recorder, node_topic("1"), 1))
        await count_reaches(recorder, node_topic("2"), 1)
        assert device_config["dev"]["name"] == "Fake 1" and device_config["state_topic"] == "hems/fake/1/status"
        settings_state = json.loads(await count_reaches(recorder, SETTINGS, 1))
        assert settings_state == BASE_SETTINGS
        # The templates read what the agent really publishes.
        status = json.loads(await count_reaches(recorder, "hems/fake/1/status", 1))
        for component in device_config["cmps"].values():
            if component["p"] != "button":
                read = settings_state if component.get("state_topic") == SETTINGS else status
                check_rendered(component, render(component["value_template"], read))
        for component in agent_config["cmps"].values():
            if "state_topic" not in component:
                check_rendered(component, render(component["value_template"], settings_state))
        prices_state = json.loads(await count_reaches(recorder, "hems/agent/prices", 1))
        assert prices_state["state"] == "not_configured", "the fake world has no price source"
        check_rendered(
            agent_config["cmps"]["price_data"],
            render(agent_config["cmps"]["price_data"]["value_template"], prices_state),
        )

        counts = {t: len(recorder.payloads(t)) for t in (AGENT_CONFIG, node_topic("2"), "hems/fake/1/status", SETTINGS)}
        await publish(broker, "homeassistant/status", "online")
        for topic, seen in counts.items():
            await count_reaches(recorder, topic, seen + 1)
    retained = [m for m in recorder.messages if m.topic.value == AGENT_CONFIG]
    assert all(m.qos == 1 for m in retained)


async def test_a_removed_device_loses_its_entities(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings, registry = settings_for(broker, tmp_path, ["1", "2"])
    async with running(settings, registry):
        await count_reaches(recorder, node_topic("2"), 1)

    # The device type is configured but none of its devices is up yet: the entities stay.
    recorder.messages.clear()
    settings, registry = settings_for(broker, tmp_path, [])
    async with running(settings, registry):
        await count_reaches(recorder, AGENT_CONFIG, 1)
    assert recorder.payloads(node_topic("2")) == []

    recorder.messages.clear()
    settings, registry = settings_for(broker, tmp_path, ["1"])
    async with running(settings, registry):
        await recorder.wait_for(node_topic("2"), lambda payload: payload == b"")
    assert recorder.payloads(node_topic("1")) and recorder.payloads(node_topic("2")) == [b""]
    state = json.loads((tmp_path / "state" / "state.json").read_text())
    assert state["discovery_nodes"] == ["energy_agent", "energy_agent_fake_1"]

    # The broker dropped the retained config: a new subscriber sees only the nodes that exist.
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe("homeassistant/device/+/config", qos=1)
        seen: set[str] = set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.3):
                async for message in client.messages:
                    seen.add(message.topic.value)
    assert seen == {AGENT_CONFIG, node_topic("1")}


async def test_controls_change_persist_and_replan(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings, registry = settings_for(broker, tmp_path, ["1"])
    async with running(settings, registry) as agent:
        reasons: list[str] = []
        original = agent.planner.replan

        async def recording(reason: str) -> None:
            reasons.append(reason)
            await original(reason)

        agent.planner.replan = recording  # type: ignore[method-assign]
        await count_reaches(recorder, SETTINGS, 1)

        for topic, payload, field, value in (
            ("hems/agent/settings/price_threshold/set", "0.18", "price_threshold", 0.18),
            ("hems/agent/settings/top_x_charge_count/set", "5", "top_x_charge_count", 5),
            ("hems/agent/settings/paused/set", "ON", "paused", True),
            ("hems/agent/operation_mode/set", "hems", "operation_mode", "hems"),
        ):
            await publish(broker, topic, payload)
            await recorder.wait_for(SETTINGS, lambda message, f=field, v=value: json.loads(message)[f] == v)
        assert reasons == ["settings changed", "settings changed", "settings changed", "mode switch"]
        assert agent.modes.standalone.price_threshold == 0.18

    recorder.messages.clear()
    async with running(settings, registry) as restarted:
        params = restarted.modes.standalone
        assert (params.price_threshold, params.top_x_charge_count, params.paused) == (0.18, 5, True)
        assert restarted.modes.mode.value == "hems"
        assert json.loads(await count_reaches(recorder, SETTINGS, 1)) == {
            **BASE_SETTINGS,
            "operation_mode": "hems",
            "price_threshold": 0.18,
            "top_x_charge_count": 5,
            "paused": True,
        }


async def test_invalid_values_are_refused_and_the_state_shows_the_value_in_force(
    broker: Broker, recorder: Recorder, tmp_path: Path
) -> None:
    settings, registry = settings_for(broker, tmp_path, ["1"])
    in_force = BASE_SETTINGS
    # A retained command is an old one: delivered at subscription, it is ignored, not applied at every connect.
    await publish(broker, "hems/agent/settings/paused/set", "ON", retain=True)
    async with running(settings, registry) as agent:
        await count_reaches(recorder, SETTINGS, 1)
        for topic, payload in (
            ("hems/agent/settings/price_threshold/set", "cheap"),
            ("hems/agent/settings/price_threshold/set", "99"),  # a number, but above the config model's bound
            ("hems/agent/settings/top_x_charge_count/set", "0"),
            ("hems/agent/settings/top_x_charge_count/set", "2.5"),
            ("hems/agent/settings/paused/set", "maybe"),
            ("hems/agent/settings/unknown/set", "1"),
            ("hems/agent/operation_mode/set", "turbo"),
        ):
            seen = len(recorder.payloads(SETTINGS))
            await publish(broker, topic, payload)
            assert json.loads(await count_reaches(recorder, SETTINGS, seen + 1)) == in_force, (topic, payload)
        assert agent.state.overrides == {}
        result = json.loads(recorder.payloads("hems/agent/operation_mode/result")[-1])
        assert result["accepted"] is False and result["operation_mode"] == "standalone"
