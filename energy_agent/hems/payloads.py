"""Every payload the agent publishes under the HEMS contract, built in one place from plain values.

Status, capabilities, the answer to a schedule command and the answer to a mode command: the runtime hands in
what it knows; the shapes live here, next to the schemas in `contracts/hems/v1/` that the tests hold them to.
Times are shown in the agent's zone with their offset.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from energy_agent.api.domain import (
    ChargerState,
    DeviceCapabilities,
    DeviceStatus,
    HeldSchedule,
    OperationMode,
    Schedule,
    ScheduleSource,
    isoformat,
)
from energy_agent.api.planning import EnergySummary
from energy_agent.hems.commands import Issue
from energy_agent.hems.contracts import CONTRACT_MAJOR, CONTRACT_VERSION
from energy_agent.hems.reasons import Reason


def dumps(payload: dict[str, Any]) -> bytes:
    """Compact JSON, as every JSON payload goes on the wire."""
    return json.dumps(payload, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What the agent knows of one device when its status is published."""

    schedule: Schedule | None
    """The schedule in force (None when there is none or it expired)."""
    status: DeviceStatus | None
    """The last reading; None before the first."""
    last_hems_command_at: datetime | None
    last_command_id: str | None
    last_command_accepted: bool | None
    """The outcome of the last HEMS command; None before the first."""
    last_error: str | None
    threshold_active: bool
    no_eligible_slots: bool
    warnings: tuple[str, ...]
    held: HeldSchedule | None = None
    """What the device was last read back to hold; None when it cannot be read back or was not read yet."""
    in_sync: bool = True
    drift_count: int = 0
    energy: EnergySummary | None = None
    """The energy summary of the standalone plan in force (policy `ready-by`); None under any other policy."""
    charge_now: bool = False
    """The owner's "charge now" override holds the device at full power."""


@dataclass(frozen=True, slots=True)
class AgentFacts:
    """Agent-wide fields of every device status."""

    operation_mode: OperationMode
    hems_connected: bool
    zone: ZoneInfo
    warnings: tuple[str, ...] = ()
    """Agent-wide warnings (the price source's), shown after the device's own in every status."""


def _local(value: datetime | None, zone: ZoneInfo) -> str | None:
    return None if value is None else isoformat(value.astimezone(zone))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def status_payload(device: DeviceFacts, agent: AgentFacts, now: datetime) -> dict[str, Any]:
    """The retained status of one device (`hems/v1/status`)."""
    schedule = device.schedule
    status = device.status or DeviceStatus(state=ChargerState.IDLE, online=False)
    next_period = schedule.next_period(now) if schedule else None
    zone = agent.zone
    takes_commands = agent.operation_mode is OperationMode.HEMS
    last = device.last_command_accepted
    return {
        "state": status.state.value,
        "schedule_source": (schedule.source if schedule else ScheduleSource.NONE).value,
        "schedule_active": bool(schedule and schedule.active_at(now)),
        "next_period_start": _local(next_period.start if next_period else None, zone),
        "next_period_end": _local(next_period.end if next_period else None, zone),
        "current_power_kw": round(status.current_power_kw, 3),
        "session_energy_kwh": _rounded(status.session_energy_kwh),
        "ready_for_schedule": takes_commands and status.online and status.state is not ChargerState.ERROR,
        "last_hems_command_at": _local(device.last_hems_command_at, zone),
        "schedule_expires_at": _local(schedule.expires_at if schedule else None, zone),
        "max_current": schedule.max_current_a if schedule else None,
        "total_energy_kwh": _rounded(status.total_energy_kwh),
        "online": status.online,
        "last_command_id": device.last_command_id,
        "last_command_result": None if last is None else "accepted" if last else "refused",
        "last_error": device.last_error,
        "price_threshold_active": device.threshold_active,
        "no_eligible_slots": device.no_eligible_slots,
        "warnings": [*device.warnings, *agent.warnings],
        "applied": _applied(device, zone),
        "drift_count": device.drift_count,
        **_energy(device.energy, zone),
        "charge_now": device.charge_now,
        "operation_mode": agent.operation_mode.value,
        "hems_connected": agent.hems_connected,
    }


def _energy(energy: EnergySummary | None, zone: ZoneInfo) -> dict[str, Any]:
    if energy is None:
        return {"ready_by": None, "energy_planned_kwh": None, "energy_missing_kwh": None, "plan_cost_eur": None}
    return {
        "ready_by": _local(energy.ready_by, zone),
        "energy_planned_kwh": round(energy.energy_planned_kwh, 3),
        "energy_missing_kwh": round(energy.energy_missing_kwh, 3),
        "plan_cost_eur": round(energy.cost_eur, 4),
    }


def _applied(device: DeviceFacts, zone: ZoneInfo) -> dict[str, Any] | None:
    held = device.held
    if held is None:
        return None
    return {
        "read_at": isoformat(held.read_at.astimezone(zone)),
        "in_sync": device.in_sync,
        "periods": [
            {"start": _local(p.start, zone), "end": _local(p.end, zone), "max_current": p.max_current_a}
            for p in held.periods
        ],
    }


def capabilities_payload(
    device_type: str, topic_id: str, capabilities: DeviceCapabilities, *, reads_back: bool = False
) -> dict[str, Any]:
    """The retained capabilities of one device (`hems/v1/capabilities`): what a schedule for it may contain."""
    return {
        "device_type": device_type,
        "topic_id": topic_id,
        "min_current": capabilities.min_current_a,
        "max_current": capabilities.max_current_a,
        "phases": capabilities.phases,
        "control_strategy": capabilities.control_strategy,
        "max_horizon_s": capabilities.horizon_s,
        "max_periods": capabilities.max_periods,
        "reads_back": reads_back,
        "contract_versions": [CONTRACT_MAJOR],
    }


def result_payload(
    *,
    command: str,
    command_id: str | None,
    accepted: bool,
    errors: Iterable[Issue] = (),
    warnings: Iterable[Issue] = (),
    applied_at: datetime | None = None,
    reason: Reason | None = None,
) -> dict[str, Any]:
    """The answer to a schedule set or clear (`hems/v1/result`); a refusal names its `reason`."""
    if accepted == (reason is not None):
        raise ValueError("a refusal needs a reason, an acceptance has none")
    return {
        "command_id": command_id,
        "command": command,
        "accepted": accepted,
        "reason": reason.value if reason else None,
        "retry": bool(reason and reason.retry),
        "errors": [e.to_json() for e in errors],
        "warnings": [w.to_json() for w in warnings],
        "applied_at": isoformat(applied_at) if accepted else None,
        "contract_version": CONTRACT_VERSION,
    }


def mode_result_payload(
    *,
    command_id: str | None,
    operation_mode: OperationMode,
    errors: Iterable[Issue] = (),
    reason: Reason | None = None,
) -> dict[str, Any]:
    """The answer to an operation mode command (`hems/v1/operation-mode-result`); refused when it has a reason."""
    return {
        "command_id": command_id,
        "accepted": reason is None,
        "reason": reason.value if reason else None,
        "retry": bool(reason and reason.retry),
        "operation_mode": operation_mode.value,
        "errors": [e.to_json() for e in errors],
        "contract_version": CONTRACT_VERSION,
    }
