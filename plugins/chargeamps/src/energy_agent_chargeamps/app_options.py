"""The Home Assistant app's options of the Charge Amps charger, as the predecessor add-on named them.

They build the `chargeamps:` section; the core maps the rest of the app's options (docs/home-assistant.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from energy_agent.api import AppOptions, option_value

OPTIONS = (
    "email",
    "password",
    "host_name",
    "base_url",
    "update_interval",
    "max_current_per_phase",
    "connector_ids",
)
"""The predecessor's Charge Amps options, each with the same meaning as there."""


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


def chargeamps_section(options: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    """The `chargeamps:` section for the app's options; a fault is appended to `problems`."""
    section: dict[str, Any] = {"api": "userapp"}
    for key in ("email", "password"):
        if option_value(options, key) is None:
            problems.append(f"option {key}: required (your Charge Amps account {'e-mail' if key == 'email' else key})")
        else:
            section[key] = options[key]
    base_url = option_value(options, "base_url")
    host_name = option_value(options, "host_name")
    if base_url is not None:
        section["base_url"] = base_url
    elif host_name is not None:
        section["base_url"] = f"https://{host_name}"
    connector_ids = option_value(options, "connector_ids")
    if connector_ids is not None:
        try:
            section["connector_ids"] = parse_connector_ids(connector_ids)
        except ValueError as exc:
            problems.append(f"option connector_ids: {exc}")
    if option_value(options, "max_current_per_phase") is not None:
        section["max_current_a"] = options["max_current_per_phase"]
    interval_min = option_value(options, "update_interval")
    if interval_min is not None:
        if isinstance(interval_min, bool) or not isinstance(interval_min, int | float):
            problems.append(f"option update_interval: minutes as a number, got {interval_min!r}")
        else:
            section["poll_interval_s"] = interval_min * 60
    return section


APP_OPTIONS = AppOptions(section="chargeamps", options=OPTIONS, build=chargeamps_section)
"""What the Charge Amps plugin registers with `register_app_options`."""
