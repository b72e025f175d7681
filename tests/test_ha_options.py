"""The Home Assistant app: its options.json (the predecessor add-on's options) mapped to a valid config, the
`run --ha-options` command, and the app's files (options, schema, translations, start script) kept in step."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from energy_agent.api.errors import ConfigError
from energy_agent.app.plugins import Registry, collect, get_plugin_manager
from energy_agent.cli.main import build_app
from energy_agent.config import CoreSettings, load_settings
from energy_agent.homeassistant import options as ha_options
from energy_agent.homeassistant.options import (
    APP_OPTIONS,
    CORE_OPTIONS,
    PRICE_OPTIONS,
    known_options,
    read_ha_options,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "ha-options.predecessor.json"
APP = ROOT / "home-assistant" / "energy-agent"
ENVIRON = {
    "SUPERVISOR_TOKEN": "fixture-supervisor-token",
    "HA_MQTT_HOST": "core-mosquitto",
    "HA_MQTT_PORT": "1883",
    "HA_MQTT_USERNAME": "addons",
    "HA_MQTT_PASSWORD": "fixture-mqtt-password",
    "HA_MQTT_SSL": "false",
    "TZ": "Europe/Amsterdam",
}


INSTALLED = collect(get_plugin_manager())
"""The installed plugins: the Charge Amps one maps its options to the `chargeamps:` section and validates it."""
MAPPINGS = list(INSTALLED.app_options.values())
KNOWN_OPTIONS = known_options(MAPPINGS)
PREDECESSOR_OPTIONS = CORE_OPTIONS + INSTALLED.app_options["chargeamps"].options
"""Every option of the predecessor add-on: the core maps its own, the Charge Amps plugin the charger's."""


@pytest.fixture(scope="module")
def registry() -> Registry:
    """The installed plugins (the Charge Amps one validates the `chargeamps:` section)."""
    return INSTALLED


def config_from_ha_options(options: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """The core's mapping with the installed plugins' options, as `run --ha-options` uses it."""
    return ha_options.config_from_ha_options(options, environ, MAPPINGS)


def options(**changes: Any) -> dict[str, Any]:
    data = read_ha_options(FIXTURE)
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def settings_of(document: dict[str, Any], registry: Registry) -> Any:
    return load_settings(registry, data=document, environ=False)


def test_every_predecessor_option_is_mapped(registry: Registry) -> None:
    assert set(read_ha_options(FIXTURE)) == set(PREDECESSOR_OPTIONS)
    document = config_from_ha_options(read_ha_options(FIXTURE), ENVIRON)
    assert document == {
        "state_dir": "/data/state",
        "operation_mode": "standalone",
        "timezone": "Europe/Amsterdam",
        "mqtt": {"host": "core-mosquitto", "port": 1883, "username": "addons", "password": "fixture-mqtt-password"},
        "standalone": {"price_threshold": 0.26, "top_x_charge_count": 4},
        "prices": {
            "source": "home_assistant",
            "url": "http://supervisor/core/api",
            "entity_id": "sensor.energy_prices_electricity_import_price",
            "token": "fixture-supervisor-token",
        },
        "web": {"enabled": True, "host": "0.0.0.0", "port": 9714, "ingress": True},
        "chargeamps": {
            "api": "userapp",
            "email": "owner@example.com",
            "password": "fixture-charge-amps-password",
            "base_url": "https://my.charge.space",
            "connector_ids": [1, 2],
            "max_current_a": 12,
            "poll_interval_s": 120,
        },
    }
    settings = settings_of(document, registry)
    assert settings.state_dir == Path("/data/state")
    assert settings.mqtt.password.get_secret_value() == "fixture-mqtt-password"
    assert settings.standalone.price_threshold == 0.26 and settings.standalone.top_x_charge_count == 4
    assert settings.prices.entity_id == "sensor.energy_prices_electricity_import_price"
    section = settings.section("chargeamps")
    assert (section.connector_ids, section.max_current_a, section.poll_interval_s) == ([1, 2], 12, 120)
    assert section.url == "https://my.charge.space"


def test_unknown_and_missing_options_are_clear_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_ha_options(options(required_minutes_per_day=240, email="", password=""), ENVIRON)
    assert caught.value.problems[0].startswith("option required_minutes_per_day: unknown; the known options are ")
    assert "option email: required" in caught.value.problems[1]
    assert "option password: required" in caught.value.problems[2]
    assert "fixture-charge-amps-password" not in str(caught.value)


def test_automation_disabled_starts_with_standalone_paused(registry: Registry) -> None:
    document = config_from_ha_options(options(automation_enabled=False), ENVIRON)
    settings = settings_of(document, registry)
    assert settings.standalone.paused is True
    assert settings.operation_mode == "standalone"
    document = config_from_ha_options(options(operation_mode="hems", automation_enabled=True), ENVIRON)
    assert document["operation_mode"] == "hems"
    assert settings_of(document, registry).standalone.paused is False


def test_mqtt_options_win_and_the_service_fills_the_rest() -> None:
    explicit = options(mqtt_host="broker.lan", mqtt_port=1884, mqtt_user="me", mqtt_password="fixture-own")
    mqtt = config_from_ha_options(explicit, ENVIRON)["mqtt"]
    assert mqtt == {"host": "broker.lan", "port": 1884, "username": "me", "password": "fixture-own"}
    empty = options(mqtt_host="", mqtt_port=None, mqtt_user="", mqtt_password="")
    mqtt = config_from_ha_options(empty, {**ENVIRON, "HA_MQTT_HOST": "mqtt.local", "HA_MQTT_SSL": "true"})["mqtt"]
    assert mqtt == {
        "host": "mqtt.local",
        "port": "1883",
        "username": "addons",
        "password": "fixture-mqtt-password",
        "tls": True,
    }
    assert config_from_ha_options(empty, {})["mqtt"] == {"host": "core-mosquitto", "port": 1883}


def test_old_host_name_only_and_new_app_options(registry: Registry) -> None:
    document = config_from_ha_options(
        options(base_url="", host_name="eu.charge.space", log_level="debug", hems_fallback="standalone"), ENVIRON
    )
    assert document["chargeamps"]["base_url"] == "https://eu.charge.space"
    assert document["hems"] == {"fallback": "standalone"}
    assert settings_of(document, registry).hems.fallback == "standalone"
    with pytest.raises(ConfigError, match="option update_interval: minutes as a number"):
        config_from_ha_options(options(update_interval="often"), ENVIRON)


def test_prices_from_entsoe_or_nord_pool_with_the_all_in_formula(registry: Registry) -> None:
    entsoe = options(
        price_source="entsoe", price_area="NL", entsoe_token="fixture-entsoe-token",
        price_multiplier=1.21, price_adder_eur_kwh=0.153186,
    )  # fmt: skip
    document = config_from_ha_options(entsoe, ENVIRON)
    assert document["prices"] == {
        "source": "entsoe",
        "area": "NL",
        "token": "fixture-entsoe-token",
        "price_multiplier": 1.21,
        "price_adder_eur_kwh": 0.153186,
    }
    prices = settings_of(document, registry).prices
    assert (prices.area, prices.price_multiplier, prices.price_adder_eur_kwh) == ("10YNL----------L", 1.21, 0.153186)
    assert prices.token.get_secret_value() == "fixture-entsoe-token"
    nordpool = options(price_source="nordpool", price_area="SE3", price_currency="SEK", entsoe_token="unused")
    document = config_from_ha_options(nordpool, ENVIRON)
    assert document["prices"] == {"source": "nordpool", "area": "SE3", "currency": "SEK"}
    assert settings_of(document, registry).prices.currency == "SEK"


def test_the_formula_applies_to_the_price_sensor_too_and_the_defaults_change_nothing(registry: Registry) -> None:
    document = config_from_ha_options(options(price_adder_eur_kwh=0.1), ENVIRON)
    assert document["prices"]["source"] == "home_assistant" and document["prices"]["price_adder_eur_kwh"] == 0.1
    assert settings_of(document, registry).prices.entity_id == "sensor.energy_prices_electricity_import_price"
    defaults = app_config()["options"]
    document = config_from_ha_options(
        options(**{key: defaults[key] for key in PRICE_OPTIONS if key in defaults}), ENVIRON
    )
    prices = settings_of(document, registry).prices
    assert (prices.source, prices.price_multiplier, prices.price_adder_eur_kwh) == ("home_assistant", 1.0, 0.0)


def test_a_price_source_without_what_it_needs_is_a_clear_error() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_ha_options(options(price_source="entsoe", price_area="", entsoe_token=""), ENVIRON)
    assert caught.value.problems == [
        "option price_area: required with price_source entsoe (the bidding zone, e.g. NL or 10YNL----------L)",
        "option entsoe_token: required with price_source entsoe (see docs/prices.md)",
    ]
    with pytest.raises(ConfigError, match="option price_source: 'tibber' is not one of home_assistant, entsoe"):
        config_from_ha_options(options(price_source="tibber"), ENVIRON)


def test_read_ha_options_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        read_ha_options(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON at line 1"):
        read_ha_options(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must be an object, got list"):
        read_ha_options(bad)


def test_run_with_ha_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[CoreSettings] = []

    async def fake_run_agent(settings: CoreSettings, registry: Registry) -> None:
        seen.append(settings)

    monkeypatch.setattr("energy_agent.app.run.run_agent", fake_run_agent)
    for key, value in ENVIRON.items():
        monkeypatch.setenv(key, value)
    app = build_app(get_plugin_manager())
    result = CliRunner().invoke(app, ["run", "--ha-options", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    assert seen[0].section("chargeamps").connector_ids == [1, 2]

    unknown = tmp_path / "options.json"
    unknown.write_text(json.dumps(options(turbo=True)))
    result = CliRunner().invoke(app, ["run", "--ha-options", str(unknown)])
    assert result.exit_code == 2 and "error: option turbo: unknown" in result.output
    assert "fixture-charge-amps-password" not in result.output
    result = CliRunner().invoke(app, ["run", "--ha-options", str(FIXTURE), "--config", str(unknown)])
    assert result.exit_code == 2 and "either --config or --ha-options" in result.output


# -- the app's files -------------------------------------------------------------------------------
def app_config() -> dict[str, Any]:
    return dict(yaml.safe_load((APP / "config.yaml").read_text()))


def test_app_config_offers_exactly_the_known_options() -> None:
    config = app_config()
    assert set(config["schema"]) == set(KNOWN_OPTIONS)
    assert set(config["options"]) <= set(config["schema"])
    assert config["arch"] == ["aarch64", "amd64"] and config["services"] == ["mqtt:need"]
    assert config["schema"]["password"] == "password" and config["schema"]["mqtt_password"] == "password?"
    assert config["schema"]["entsoe_token"] == "password?", "the UI hides a secret"
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert config["version"] == version, "the app's version follows the package's"
    # The defaults map to a config the agent accepts.
    defaults = {**config["options"], "email": "owner@example.com", "password": "fixture-charge-amps-password"}
    settings = load_settings(collect(get_plugin_manager()), data=config_from_ha_options(defaults, ENVIRON))
    assert settings.standalone.price_threshold == 0.25 and settings.standalone.top_x_charge_count == 16
    assert set(APP_OPTIONS) <= set(config["schema"])
    # the web page opens from the sidebar: served behind ingress on the app's ingress port, to the proxy only
    assert config["ingress"] is True and config["panel_icon"].startswith("mdi:")
    assert (settings.web.ingress, settings.web.port) == (True, config["ingress_port"])


def test_app_translations_docs_and_start_script() -> None:
    translations = yaml.safe_load((APP / "translations" / "en.yaml").read_text())["configuration"]
    assert set(translations) == set(app_config()["schema"])
    assert all(entry["name"] and entry["description"] for entry in translations.values())
    docs = (APP / "DOCS.md").read_text()
    for option in PREDECESSOR_OPTIONS:
        assert f"`{option}`" in docs, option
    script = (APP / "run.sh").read_text()
    assert "bashio::services mqtt" in script and "--ha-options /data/options.json" in script
    logged = [line for line in script.splitlines() if "bashio::log" in line]
    assert logged and not [line for line in logged if "PASSWORD" in line or "USERNAME" in line]
    repository = yaml.safe_load((ROOT / "home-assistant" / "repository.yaml").read_text())
    assert repository["name"]
