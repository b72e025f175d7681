"""MQTT topic names of the HEMS contract, built from the configured prefix in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass

TOPIC_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_topic_id(value: str) -> str:
    """Return `value` when it is a valid topic id (`[A-Za-z0-9_-]`, 1..64), else raise ValueError."""
    if not TOPIC_ID_RE.fullmatch(value):
        raise ValueError(f"topic id {value!r} may only hold letters, digits, '_' and '-' (1 to 64 of them)")
    return value


@dataclass(frozen=True)
class Topics:
    """Topic names under one HEMS prefix (`mqtt.hems_prefix`)."""

    prefix: str

    @property
    def agent_availability(self) -> str:
        """Retained `online`/`offline` of the agent (its last will)."""
        return f"{self.prefix}/agent/availability"

    @property
    def controller_availability(self) -> str:
        """Retained `online`/`offline` of the HEMS itself."""
        return f"{self.prefix}/controller/availability"

    @property
    def mode_set(self) -> str:
        """Where the operation mode is switched at run time."""
        return f"{self.prefix}/agent/operation_mode/set"

    @property
    def mode_result(self) -> str:
        """The answer to a mode switch."""
        return f"{self.prefix}/agent/operation_mode/result"

    def device(self, device_type: str, topic_id: str) -> str:
        """Base topic of one device."""
        return f"{self.prefix}/{device_type}/{topic_id}"

    def status(self, device_type: str, topic_id: str) -> str:
        """Retained device status."""
        return f"{self.device(device_type, topic_id)}/status"

    def capabilities(self, device_type: str, topic_id: str) -> str:
        """Retained device capabilities."""
        return f"{self.device(device_type, topic_id)}/capabilities"

    def schedule_set(self, device_type: str, topic_id: str) -> str:
        """Schedule commands from the HEMS."""
        return f"{self.device(device_type, topic_id)}/schedule/set"

    def schedule_clear(self, device_type: str, topic_id: str) -> str:
        """Clear commands from the HEMS."""
        return f"{self.device(device_type, topic_id)}/schedule/clear"

    def schedule_result(self, device_type: str, topic_id: str) -> str:
        """One answer per command."""
        return f"{self.device(device_type, topic_id)}/schedule/result"
