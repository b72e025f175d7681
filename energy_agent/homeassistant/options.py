"""The Home Assistant app's `options.json`, mapped to an energy-agent config document.

The option names are those of the predecessor add-on (charge-amps-monitor), so that its options carry
over unchanged, plus a few of this app's own. The broker defaults to the Supervisor's MQTT service,
which the start script passes in `HA_MQTT_*` environment variables. See docs/home-assistant.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from energy_agent.api.errors import ConfigError
from energy_agent.prices.sources import SUPERVISOR_TOKEN_ENV, SUPERVISOR_URL

STATE_DIR = "/data/state"
"""`/data` is the app's persistent folder."""
DEFAULT_MQTT_HOST = "core-mosquitto"
DEFAULT_MQTT_PORT = 1883

PREDECESSOR_OPTIONS = (
    "email",
    "password",
    "host_name",
    "base_url",
    "update_interval",
    "operation_mode",
    "automation_enabled",
    "price_sensor_entity",
    "top_x_charge_count",
    "price_threshold",
    "max_current_per_phase",
    "connector_ids",
    "mqtt_host",
    "mqtt_port",
    "mqtt_user",
    "mqtt_password",
)
"""The options of the predecessor add-on, all accepted with the same meaning."""
APP_OPTIONS = ("log_level", "hems_fallback", "hems_timeout_s")
"""Options only this app has; `log_level` is read by the start script."""
KNOWN_OPTIONS = PREDECESSOR_OPTIONS + APP_OPTIONS

SERVICE_ENV = {
    "host": "HA_MQTT_HOST",
    "port": "HA_MQTT_PORT",
    "username": "HA_MQTT_USERNAME",
    "password": "HA_MQTT_PASSWORD",
    "ssl": "HA_MQTT_SSL",
}
"""Where the start script puts the Supervisor's MQTT service."""


def read_ha_options(path: Path) -> dict[str, Any]:
    """The options file as a mapping; a missing, unreadable or malformed file is a ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"options file {path}: not found"]) from None
    except OSError as exc:
        raise ConfigError([f"options file {path}: cannot be read ({exc.strerror})"]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"options file {path}: not valid JSON at line {exc.lineno}: {exc.msg}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"options file {path}: the top level must be an object, got {type(data).__name__}"])
    return data


def _given(options: Mapping[str, Any], key: str) -> Any:
    """The option's value; None when absent, null or an empty string (how the app leaves options unset)."""
    value = options.get(key)
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def parse_connector_ids(value: Any) -> list[int]:
    """`1`, `"1,2"` (the predecessor's form) or `[1, 2]` as a list of connector numbers; ValueError otherwise."""
    parts: list[Any]
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a connector number")
    if isinstance(value, int):
        parts = [value]
    elif isinstance(value, str):
        parts = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, list):
        parts = value
    else:
        raise ValueError(f"expected a comma-separated list such as '1,2', got {type(value).__name__}")
    ids: list[int] = []
    for part in parts:
        try:
            number = int(part) if not isinstance(part, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or number < 1:
            raise ValueError(f"{part!r} is not a connector number (1, 2, …)")
        if number not in ids:
            ids.append(number)
    if not ids:
        raise ValueError("at least one connector id is needed, e.g. '1'")
    return ids


def _mqtt(options: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Options win where they are set; what they leave empty comes from the Supervisor's MQTT service."""
    service = {key: environ.get(name, "").strip() for key, name in SERVICE_ENV.items()}
    host = _given(options, "mqtt_host") or service["host"] or DEFAULT_MQTT_HOST
    mqtt: dict[str, Any] = {
        "host": host,
        "port": _given(options, "mqtt_port") or service["port"] or DEFAULT_MQTT_PORT,
    }
    if _given(options, "mqtt_user") is not None:
        mqtt["username"] = options["mqtt_user"]
        mqtt["password"] = _given(options, "mqtt_password")
    elif service["username"]:
        mqtt["username"] = service["username"]
        mqtt["password"] = service["password"] or None
    if service["ssl"].lower() == "true" and host == service["host"]:
        mqtt["tls"] = True
    return mqtt


def _chargeamps(options: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    section: dict[str, Any] = {"api": "userapp"}
    for key in ("email", "password"):
        if _given(options, key) is None:
            problems.append(f"option {key}: required (your Charge Amps account {'e-mail' if key == 'email' else key})")
        else:
            section[key] = options[key]
    base_url = _given(options, "base_url")
    host_name = _given(options, "host_name")
    if base_url is not None:
        section["base_url"] = base_url
    elif host_name is not None:
        section["base_url"] = f"https://{host_name}"
    connector_ids = options.get("connector_ids")
    if connector_ids is not None and connector_ids != "":
        try:
            section["connector_ids"] = parse_connector_ids(connector_ids)
        except ValueError as exc:
            problems.append(f"option connector_ids: {exc}")
    if _given(options, "max_current_per_phase") is not None:
        section["max_current_a"] = options["max_current_per_phase"]
    interval_min = _given(options, "update_interval")
    if interval_min is not None:
        if isinstance(interval_min, bool) or not isinstance(interval_min, int | float):
            problems.append(f"option update_interval: minutes as a number, got {interval_min!r}")
        else:
            section["poll_interval_s"] = interval_min * 60
    return section


def config_from_ha_options(options: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The config document (as the YAML file would hold it) for the app's options; ConfigError lists every fault."""
    problems = [
        f"option {key}: unknown; the known options are {', '.join(sorted(KNOWN_OPTIONS))}"
        for key in options
        if key not in KNOWN_OPTIONS
    ]
    document: dict[str, Any] = {"state_dir": STATE_DIR}
    mode = _given(options, "operation_mode")
    if mode is not None:
        document["operation_mode"] = mode
    zone = environ.get("TZ", "").strip()
    if zone:
        document["timezone"] = zone
    document["mqtt"] = _mqtt(options, environ)
    standalone = {
        key: options[key] for key in ("price_threshold", "top_x_charge_count") if _given(options, key) is not None
    }
    # The predecessor's automation_enabled: false kept its hands off the charger: standalone scheduling
    # starts paused, and the Pause switch in Home Assistant turns it on again.
    if options.get("automation_enabled") is False:
        standalone["paused"] = True
    if standalone:
        document["standalone"] = standalone
    hems = {
        target: options[key]
        for key, target in (("hems_fallback", "fallback"), ("hems_timeout_s", "timeout_s"))
        if _given(options, key) is not None
    }
    if hems:
        document["hems"] = hems
    prices: dict[str, Any] = {"source": "home_assistant", "url": SUPERVISOR_URL}
    if _given(options, "price_sensor_entity") is not None:
        prices["entity_id"] = options["price_sensor_entity"]
    token = environ.get(SUPERVISOR_TOKEN_ENV, "")
    if token:
        prices["token"] = token
    document["prices"] = prices
    document["chargeamps"] = _chargeamps(options, problems)
    if problems:
        raise ConfigError(problems)
    return document
