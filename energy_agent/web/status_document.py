"""`/api/status`: the agent (mode, links), the controls' values, one entry per device (its contract status, and
the periods the agent wants it to run beside what it was read back to hold), the last commands answered, and the
warnings an owner should see."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from energy_agent import __version__
from energy_agent.api.domain import isoformat
from energy_agent.runtime.view import AgentView, DeviceView
from energy_agent.web.controls import control_values
from energy_agent.web.health import health_reasons, health_warnings

WANTED_SHOWN = 6
"""Coming periods of the schedule in force shown per device."""


def status_document(view: AgentView, now: datetime, zone: tzinfo) -> dict[str, Any]:
    """The `/api/status` document (times in the agent's zone)."""
    mqtt = view.mqtt
    return {
        "version": __version__,
        "operation_mode": view.mode.value,
        "standalone_in_force": view.standalone_in_force,
        "hems_connected": view.hems_connected,
        "mqtt_connected": mqtt.connected,
        "settings": control_values(view),
        "devices": [_device(device, now, zone) for device in view.devices()],
        "commands": [
            {"at": isoformat(entry.at.astimezone(zone)), "device": entry.key, "answer": entry.answer}
            for entry in view.recent_commands()
        ],
        "warnings": warnings(view),
        "prices": view.price_report.to_json(),
    }


def _device(device: DeviceView, now: datetime, zone: tzinfo) -> dict[str, Any]:
    schedule = device.schedule
    coming = [period for period in schedule.periods if period.end > now] if schedule is not None else []
    default_a = schedule.max_current_a if schedule is not None else None
    return {
        "key": device.key,
        "name": device.name,
        "device_type": device.device_type,
        "status": device.status,
        "wants": [
            {
                "start": isoformat(period.start.astimezone(zone)),
                "end": isoformat(period.end.astimezone(zone)),
                "max_current": default_a if period.max_current_a is None else period.max_current_a,
            }
            for period in coming[:WANTED_SHOWN]
        ],
        "wants_more": max(0, len(coming) - WANTED_SHOWN),
    }


def warnings(view: AgentView) -> list[str]:
    """What the owner should know, each once: why the agent is unhealthy, the price source's warnings (stale
    prices), and each device's own (no slot under the cap, a shortfall, paused, a drift)."""
    reasons = health_reasons(view)
    found = [*reasons, *health_warnings(view, reasons)]
    for device in view.devices():
        found += [f"{device.name}: {warning}" for warning in device.status.get("warnings", [])]
    unique: list[str] = []
    for warning in found:
        if warning not in unique and not any(warning.endswith(f": {known}") for known in unique):
            unique.append(warning)
    return unique
