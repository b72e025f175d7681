"""The ready-by keys of `standalone`: validation with the key and the value, cross-field checks, charge_need()."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from energy_agent.api.errors import ConfigError
from energy_agent.app.plugins import Registry, collect, get_plugin_manager
from energy_agent.config import CoreSettings, StandaloneSettings, load_settings
from energy_agent.runtime.charge_need import ChargeNeed, charge_need
from energy_agent.standalone.departure import DepartureSchedule


@pytest.fixture(scope="module")
def registry() -> Registry:
    return collect(get_plugin_manager())


def load(registry: Registry, standalone: dict[str, Any]) -> CoreSettings:
    return load_settings(registry, data={"standalone": standalone}, environ=False)


def problems(registry: Registry, standalone: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(registry, standalone)
    return caught.value.problems


def test_the_default_stays_the_unique_price_level_rule(registry: Registry) -> None:
    settings = load(registry, {})

    assert settings.standalone.policy == "unique-price-levels"
    assert settings.standalone.ready_by is None and settings.standalone.departure_schedule is None
    assert (settings.standalone.voltage_v, settings.standalone.charge_efficiency) == (230, 0.9)


def test_a_ready_by_config_loads_and_writes_times_canonically(registry: Registry) -> None:
    daily = load(registry, {"policy": "ready-by", "ready_by": "7:00", "energy_kwh": 22, "charge_power_kw": 11})
    weekly = load(registry, {"policy": "ready-by", "ready_by": {"Monday": "7:00", "sat": "09:30"}, "energy_kwh": 22})

    assert daily.standalone.ready_by == "07:00"
    assert daily.standalone.departure_schedule == DepartureSchedule.parse("07:00")
    assert weekly.standalone.ready_by == {"mon": "07:00", "sat": "09:30"}


def test_a_yaml_file_with_an_unquoted_late_time_says_to_quote_it(registry: Registry, tmp_path: Path) -> None:
    config = tmp_path / "energy-agent.yaml"
    config.write_text("standalone:\n  policy: ready-by\n  ready_by: 22:30\n  energy_kwh: 10\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_settings(registry, config, environ=False)
    assert caught.value.problems == [
        "standalone.ready_by: 1350 is a number, not a time HH:MM: write the time in quotes, e.g. '07:00'"
    ]
    config.write_text("standalone:\n  ready_by: 07:00\n", encoding="utf-8")  # YAML keeps a leading zero a string
    assert load_settings(registry, config, environ=False).standalone.ready_by == "07:00"


def test_an_environment_variable_sets_the_departure(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENERGY_AGENT_STANDALONE__READY_BY", "6:45")

    assert load_settings(registry, data={}).standalone.ready_by == "06:45"


@pytest.mark.parametrize(
    ("standalone", "expected"),
    [
        ({"ready_by": "7:60"}, "standalone.ready_by: '7:60' is not a time HH:MM"),
        ({"ready_by": {"mon": "07:00", "xx": "8:00"}}, "standalone.ready_by: 'xx' is not a weekday; use mon, tue, "
         "wed, thu, fri, sat, sun"),
        ({"policy": "ready-by", "energy_kwh": 5}, "standalone: policy ready-by needs ready_by (the departure time, "
         "e.g. '07:00')"),
        ({"policy": "ready-by", "ready_by": "07:00"}, "standalone: policy ready-by needs energy_kwh or target_soc "
         "(how much to charge)"),
        ({"energy_kwh": 5, "target_soc": 80}, "standalone: set energy_kwh or target_soc, not both"),
        ({"target_soc": 80, "soc_entity": "sensor.car_soc"}, "standalone: target_soc needs battery_kwh (the "
         "battery's usable capacity in kWh)"),
        ({"target_soc": 80, "battery_kwh": 60}, "standalone: target_soc needs soc_entity or soc_topic (where the "
         "car's state of charge is read)"),
        ({"soc_entity": "sensor.a", "soc_topic": "car/soc"}, "standalone: set soc_entity or soc_topic, not both"),
        ({"soc_entity": "car soc"}, "standalone.soc_entity: String should match pattern '^[a-z0-9_]+\\.[a-z0-9_]+$' "
         "(got 'car soc')"),
        ({"soc_topic": "car/+/soc"}, "standalone.soc_topic: String should match pattern '^[^#+]+$' (got 'car/+/soc')"),
        ({"policy": "cheapest"}, "standalone.policy: Input should be 'unique-price-levels' or 'ready-by' "
         "(got 'cheapest')"),
        ({"energy_kwh": 0}, "standalone.energy_kwh: Input should be greater than 0 (got 0)"),
        ({"charge_efficiency": 1.2}, "standalone.charge_efficiency: Input should be less than or equal to 1 (got 1.2)"),
        ({"phases": 4}, "standalone.phases: Input should be less than or equal to 3 (got 4)"),
        ({"target_soc": 101}, "standalone.target_soc: Input should be less than or equal to 100 (got 101)"),
    ],
)  # fmt: skip
def test_bad_values_name_the_key_and_the_value(registry: Registry, standalone: dict[str, Any], expected: str) -> None:
    assert problems(registry, standalone) == [expected]


def settings(**keys: Any) -> StandaloneSettings:
    return StandaloneSettings(**keys)


def test_energy_per_session_less_what_the_session_delivered() -> None:
    configured = settings(energy_kwh=22, charge_power_kw=11)

    assert charge_need(configured, max_current_a=16, device_phases=3) == ChargeNeed(11, 22)
    assert charge_need(configured, max_current_a=16, device_phases=3, session_energy_kwh=7.5) == ChargeNeed(11, 14.5)
    assert charge_need(configured, max_current_a=16, device_phases=3, session_energy_kwh=30) == ChargeNeed(11, 0)


def test_power_from_current_phases_and_voltage() -> None:
    # 16 A × 3 phases × 230 V = 11.04 kW; the configured phases win over the device's
    assert charge_need(settings(energy_kwh=5), max_current_a=16, device_phases=3).power_kw == pytest.approx(11.04)
    assert charge_need(settings(energy_kwh=5, phases=1), max_current_a=16, device_phases=3).power_kw == 3.68
    assert charge_need(settings(energy_kwh=5, voltage_v=240), max_current_a=10, device_phases=1).power_kw == 2.4
    assert charge_need(settings(energy_kwh=5), max_current_a=None, device_phases=3).power_kw is None
    assert charge_need(settings(energy_kwh=5), max_current_a=16, device_phases=None).power_kw is None


def test_energy_from_the_state_of_charge() -> None:
    soc = settings(target_soc=80, battery_kwh=60, soc_entity="sensor.car_soc", charge_efficiency=0.9)

    # (80 − 35) % of 60 kWh = 27 kWh into the battery = 30 kWh from the charger at 90 %
    assert charge_need(soc, max_current_a=16, device_phases=3, soc_percent=35).energy_needed_kwh == pytest.approx(30)
    # the reading already holds what the session delivered: not subtracted again
    need = charge_need(soc, max_current_a=16, device_phases=3, soc_percent=35, session_energy_kwh=10)
    assert need.energy_needed_kwh == pytest.approx(30)
    assert charge_need(soc, max_current_a=16, device_phases=3, soc_percent=85).energy_needed_kwh == 0
    assert charge_need(soc, max_current_a=16, device_phases=3).energy_needed_kwh is None  # no reading yet
    assert charge_need(settings(), max_current_a=16, device_phases=3).energy_needed_kwh is None  # nothing configured


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"soc_percent": 120}, "soc_percent must be a number within 0..100, got 120"),
        ({"soc_percent": float("nan")}, "soc_percent must be a number within 0..100"),
        ({"session_energy_kwh": -1}, "session_energy_kwh must be a number within 0..inf, got -1"),
        ({"max_current_a": -6}, "max_current_a must be a number within 0..inf, got -6"),
    ],
)
def test_bad_readings_are_refused(keys: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"max_current_a": 16, "device_phases": 3, **keys}
    with pytest.raises(ValueError, match=message):
        charge_need(settings(energy_kwh=5), **arguments)
