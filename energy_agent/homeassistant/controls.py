"""The standalone settings Home Assistant may change, and the parsing of its command payloads.

Parsing only checks the form (a number, a whole number, on/off); the range is checked by
the agent's `ModeControl` against the config model, so the two can never disagree.
"""

from __future__ import annotations

import json
import math
from typing import Any

from energy_agent.config import StandaloneSettings

NUMBERS = ("price_threshold", "top_x_charge_count", "energy_kwh", "target_soc")
TEXTS = ("policy", "ready_by", "departure_once")
CHARGE_NOW = "charge_now"
"""Not a setting: the "charge now" button of a device; its payload is the device key (`charge-amps/1`)."""
SETTINGS = ("paused", *NUMBERS, *TEXTS, CHARGE_NOW)
"""The settings with a command topic of their own (the mode uses the HEMS contract's topic)."""
NONE_WORDS = frozenset({"", "none", "null"})

MAX_PAYLOAD_BYTES = 64
ON_WORDS = frozenset({"on", "true", "1"})
OFF_WORDS = frozenset({"off", "false", "0"})


def parse_setting(setting: str, payload: bytes) -> Any:
    """The value a command payload asks for; ValueError with a reason when it is not one."""
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; known: {', '.join(SETTINGS)}")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload of {len(payload)} bytes; a value has at most {MAX_PAYLOAD_BYTES}")
    try:
        text = payload.decode().strip()
    except UnicodeDecodeError:
        raise ValueError("payload is not UTF-8 text") from None
    if setting == "paused":
        word = text.lower()
        if word in ON_WORDS:
            return True
        if word in OFF_WORDS:
            return False
        raise ValueError(f"{text!r} is not ON or OFF")
    if setting in TEXTS or setting == CHARGE_NOW:
        if setting == "departure_once" and text.lower() in NONE_WORDS:
            return None
        if not text.isprintable():
            raise ValueError("the value holds control characters")
        return text
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    if setting == "top_x_charge_count":
        if not number.is_integer():
            raise ValueError(f"{text!r} is not a whole number")
        return int(number)
    return number


def settings_payload(operation_mode: str, standalone: StandaloneSettings) -> dict[str, Any]:
    """The retained settings topic: the mode and the standalone knobs in force (a per-weekday `ready_by` as
    compact JSON, since a text entity shows one line)."""
    ready_by = standalone.ready_by
    once = standalone.departure_once
    return {
        "operation_mode": operation_mode,
        "price_threshold": standalone.price_threshold,
        "top_x_charge_count": standalone.top_x_charge_count,
        "paused": standalone.paused,
        "policy": standalone.policy,
        "ready_by": json.dumps(ready_by, separators=(",", ":")) if isinstance(ready_by, dict) else ready_by,
        "departure_once": once.isoformat() if once else None,
        "energy_kwh": standalone.energy_kwh,
        "target_soc": standalone.target_soc,
    }
