"""Tests of the example plugin: registration, config through the core's loader, the device, the entry point.

They pass as copied; keep them passing while you rename and fill in your device.
"""

from __future__ import annotations

import importlib.metadata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from energy_agent.api import ChargerState, ConfigError, Device, DeviceContext, Period, Schedule, ScheduleSource
from energy_agent.testing import ManualClock, NoMqtt, Registry, load_config, plugin_registry

from energy_agent_example import plugin
from energy_agent_example.device import ExampleDevice

ENTRY_POINT_NAME = "example"
START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def registry() -> Registry:
    """The core's registry with only this plugin (registered directly, without its entry point)."""
    return plugin_registry(plugin)


def test_registers_its_device_type(registry: Registry) -> None:
    device_type = registry.device_types["example"]
    assert device_type.config_section == "example"
    assert device_type.config_model is plugin.ExampleConfig


def test_config_is_validated_by_the_core_loader(registry: Registry) -> None:
    settings = load_config({"example": {"devices": [{"id": "one", "power_kw": 1.5}]}}, registry)
    section = settings.section("example")
    assert isinstance(section, plugin.ExampleConfig)
    assert section.devices[0].power_kw == 1.5
    with pytest.raises(ConfigError) as caught:
        load_config({"example": {"devices": [{"id": "one", "power_kw": 1, "x": 1}]}}, registry)
    assert caught.value.problems == ["example.devices.0.x: unknown key"]


async def test_device_runs_during_its_periods(registry: Registry, tmp_path: Path) -> None:
    clock = ManualClock(START)
    context = DeviceContext(clock=clock, timezone=ZoneInfo("Europe/Amsterdam"), state_dir=tmp_path, mqtt=NoMqtt())
    section = plugin.ExampleConfig.model_validate({"devices": [{"id": "one", "power_kw": 2}]})
    built = registry.device_types["example"].create(section, context)
    assert isinstance(built, list)
    [device] = built
    assert isinstance(device, ExampleDevice)
    assert isinstance(device, Device)
    await device.start()
    period = Period(START + timedelta(hours=1), START + timedelta(hours=2))
    await device.apply_schedule(Schedule(periods=(period,), source=ScheduleSource.HEMS))
    assert (await device.read_status()).state is ChargerState.IDLE
    clock.set(START + timedelta(hours=1, minutes=30))
    status = await device.read_status()
    assert status.state is ChargerState.CHARGING
    assert status.current_power_kw == 2
    await device.clear_schedule()
    assert (await device.read_status()).state is ChargerState.IDLE
    await device.close()


def test_installed_plugin_is_found_through_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    entry_points = importlib.metadata.entry_points(group="energy_agent", name=ENTRY_POINT_NAME)
    assert [ep.value for ep in entry_points] == ["energy_agent_example.plugin"], "install the package first"
    monkeypatch.setenv("ENERGY_AGENT_PLUGINS", ENTRY_POINT_NAME)
    assert "example" in plugin_registry(entry_points=True).device_types
