"""The Charge Amps options of the Home Assistant app (the predecessor's `connector_ids`, `email`, …) through the
core's mapping, as `energy-agent run --ha-options` reads them."""

from __future__ import annotations

from typing import Any

import pytest

from energy_agent.api import ConfigError
from energy_agent.testing import app_options_config
from energy_agent_chargeamps.app_options import APP_OPTIONS, parse_connector_ids

ENVIRON = {"SUPERVISOR_TOKEN": "fixture-supervisor-token", "HA_MQTT_HOST": "core-mosquitto"}
OPTIONS = {"email": "owner@example.com", "password": "fixture-charge-amps-password", "connector_ids": "1"}


def options(**changes: Any) -> dict[str, Any]:
    return {**OPTIONS, **changes}


def config_from_ha_options(values: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    return app_options_config(values, environ, [APP_OPTIONS])


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", [1]), ("1,2", [1, 2]), (" 2 , 1,2 ", [2, 1]), ("1,,3", [1, 3]), (3, [3]), ([1, "2"], [1, 2])],
)
def test_connector_ids_in_every_form(value: Any, expected: list[int]) -> None:
    assert parse_connector_ids(value) == expected
    assert config_from_ha_options(options(connector_ids=value), ENVIRON)["chargeamps"]["connector_ids"] == expected


@pytest.mark.parametrize("value", ["1,x", "0", ",", [True], 1.5, {"a": 1}])
def test_bad_connector_ids_are_refused(value: Any) -> None:
    with pytest.raises(ConfigError, match="option connector_ids:"):
        config_from_ha_options(options(connector_ids=value), ENVIRON)


def test_hook_register_app_options() -> None:
    from energy_agent.testing import plugin_registry
    from energy_agent_chargeamps import plugin

    registry = plugin_registry(plugin)
    assert registry.app_options["chargeamps"] is APP_OPTIONS
    document = app_options_config(OPTIONS, ENVIRON, registry.app_options.values())
    assert document["chargeamps"]["email"] == "owner@example.com"
    with pytest.raises(ConfigError) as caught:
        app_options_config({**OPTIONS, "turbo": True}, ENVIRON, registry.app_options.values())
    assert caught.value.problems[0].startswith("option turbo: unknown")
