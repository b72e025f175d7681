"""The Home Assistant app's `options.json`, mapped to an energy-agent config document.

The option names are those of the predecessor add-on, so that its options carry over unchanged, plus a few of
this app's own. The core maps its own options (mode, cap, broker, prices); each device plugin maps its own
through the `AppOptions` it registers (`register_app_options`). The broker defaults to the Supervisor's MQTT
service, which the start script passes in `HA_MQTT_*` environment variables. See docs/home-assistant.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from energy_agent.api.errors import ConfigError
from energy_agent.api.homeassistant import SUPERVISOR_TOKEN_ENV, SUPERVISOR_URL, AppOptions, option_value

STATE_DIR = "/data/state"
"""`/data` is the app's persistent folder."""
DEFAULT_MQTT_HOST = "core-mosquitto"
DEFAULT_MQTT_PORT = 1883
INGRESS_PORT = 9714
"""`ingress_port` in the app's config.yaml: the web page, opened from the Home Assistant sidebar."""
WEB = {"enabled": True, "host": "0.0.0.0", "port": INGRESS_PORT, "ingress": True}
"""The web page behind ingress: it listens on the app's network, and only the ingress proxy may connect."""

CORE_OPTIONS = (
    "operation_mode",
    "automation_enabled",
    "price_sensor_entity",
    "top_x_charge_count",
    "price_threshold",
    "mqtt_host",
    "mqtt_port",
    "mqtt_user",
    "mqtt_password",
)
"""The predecessor's options the core maps (the device's own come from its plugin's `AppOptions`)."""
PRICE_OPTIONS = (
    "price_source",
    "price_area",
    "entsoe_token",
    "price_currency",
    "price_multiplier",
    "price_adder_eur_kwh",
)
"""Where the prices come from when not from a Home Assistant sensor, and the all-in formula (docs/prices.md)."""
APP_OPTIONS = ("log_level", "hems_fallback", "hems_timeout_s", *PRICE_OPTIONS)
"""Options only this app has; `log_level` is read by the start script."""
PRICE_SOURCES = ("home_assistant", "entsoe", "nordpool")


def known_options(mappings: Iterable[AppOptions]) -> tuple[str, ...]:
    """Every option the app takes: the core's, the app's own, and each plugin mapping's."""
    return CORE_OPTIONS + APP_OPTIONS + tuple(option for mapping in mappings for option in mapping.options)


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


def _mqtt(options: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Options win where they are set; what they leave empty comes from the Supervisor's MQTT service."""
    service = {key: environ.get(name, "").strip() for key, name in SERVICE_ENV.items()}
    host = option_value(options, "mqtt_host") or service["host"] or DEFAULT_MQTT_HOST
    mqtt: dict[str, Any] = {
        "host": host,
        "port": option_value(options, "mqtt_port") or service["port"] or DEFAULT_MQTT_PORT,
    }
    if option_value(options, "mqtt_user") is not None:
        mqtt["username"] = options["mqtt_user"]
        mqtt["password"] = option_value(options, "mqtt_password")
    elif service["username"]:
        mqtt["username"] = service["username"]
        mqtt["password"] = service["password"] or None
    if service["ssl"].lower() == "true" and host == service["host"]:
        mqtt["tls"] = True
    return mqtt


def _prices(options: Mapping[str, Any], environ: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    """The `prices:` section: Home Assistant's price sensor (the default), ENTSO-E or Nord Pool, with the all-in
    formula on any of them. Options of a source not chosen are left unused (switching back keeps them)."""
    source = option_value(options, "price_source") or "home_assistant"
    prices: dict[str, Any] = {"source": source}
    if source == "home_assistant":
        prices["url"] = SUPERVISOR_URL
        if option_value(options, "price_sensor_entity") is not None:
            prices["entity_id"] = options["price_sensor_entity"]
        token = environ.get(SUPERVISOR_TOKEN_ENV, "")
        if token:
            prices["token"] = token
    elif source in PRICE_SOURCES:
        if option_value(options, "price_area") is None:
            example = "NL or 10YNL----------L" if source == "entsoe" else "SE3 or NL"
            problems.append(
                f"option price_area: required with price_source {source} (the bidding zone, e.g. {example})"
            )
        else:
            prices["area"] = options["price_area"]
        if source == "entsoe":
            if option_value(options, "entsoe_token") is None:
                problems.append("option entsoe_token: required with price_source entsoe (see docs/prices.md)")
            else:
                prices["token"] = options["entsoe_token"]
        elif option_value(options, "price_currency") is not None:
            prices["currency"] = options["price_currency"]
    else:
        problems.append(f"option price_source: {source!r} is not one of {', '.join(PRICE_SOURCES)}")
    for key in ("price_multiplier", "price_adder_eur_kwh"):
        if option_value(options, key) is not None:
            prices[key] = options[key]
    return prices


def config_from_ha_options(
    options: Mapping[str, Any], environ: Mapping[str, str], mappings: Iterable[AppOptions] = ()
) -> dict[str, Any]:
    """The config document (as the YAML file would hold it) for the app's options; ConfigError lists every fault.

    `mappings` are the plugins' (`Registry.app_options`): each builds its own section from its own options.
    """
    mappings = list(mappings)
    known = known_options(mappings)
    problems = [
        f"option {key}: unknown; the known options are {', '.join(sorted(known))}"
        for key in options
        if key not in known
    ]
    document: dict[str, Any] = {"state_dir": STATE_DIR}
    mode = option_value(options, "operation_mode")
    if mode is not None:
        document["operation_mode"] = mode
    zone = environ.get("TZ", "").strip()
    if zone:
        document["timezone"] = zone
    document["mqtt"] = _mqtt(options, environ)
    standalone = {
        key: options[key] for key in ("price_threshold", "top_x_charge_count") if option_value(options, key) is not None
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
        if option_value(options, key) is not None
    }
    if hems:
        document["hems"] = hems
    document["prices"] = _prices(options, environ, problems)
    document["web"] = dict(WEB)
    for mapping in mappings:
        document[mapping.section] = mapping.build(options, problems)
    if problems:
        raise ConfigError(problems)
    return document
