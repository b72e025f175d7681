"""One device as the agent runs it: the schedule in force, idempotent writes, status polling and publishing."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from energy_agent.api.clock import Clock
from energy_agent.api.devices import Device
from energy_agent.api.domain import ChargerState, DeviceStatus, Schedule, ScheduleSource, isoformat
from energy_agent.api.errors import DeviceError
from energy_agent.runtime.state import DeviceRecord

log = logging.getLogger(__name__)


@dataclass
class PlanInfo:
    """What the standalone planner last concluded for this device (shown in status and entities)."""

    threshold_active: bool = False
    no_eligible_slots: bool = False
    warnings: tuple[str, ...] = ()


@dataclass
class DeviceRuntime:
    """A device plus the agent's knowledge of it. All writes go through `put_schedule` under `lock`."""

    device: Device
    record: DeviceRecord
    clock: Clock
    persist: Callable[[], None]
    publish_status: Callable[[DeviceRuntime], Awaitable[None]]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    status: DeviceStatus | None = None
    status_error: str | None = None
    last_error: str | None = None
    plan: PlanInfo = field(default_factory=PlanInfo)
    device_writes: int = 0

    @property
    def key(self) -> str:
        """`{device_type}/{topic_id}`: unique across the agent, used in state and topics."""
        return f"{self.device.device_type}/{self.device.topic_id}"

    @property
    def schedule(self) -> Schedule | None:
        """The schedule in force, None once expired or cleared."""
        schedule = self.record.schedule
        if schedule is not None and schedule.is_expired(self.clock.now()):
            return None
        return schedule

    @property
    def source(self) -> ScheduleSource:
        """Who decided the schedule in force."""
        return self.schedule.source if self.schedule else ScheduleSource.NONE

    async def put_schedule(self, schedule: Schedule | None, *, publish: bool = True) -> bool:
        """Make `schedule` the one in force (None or no periods: nothing runs); no device call when unchanged.

        A schedule may hold periods that already ended (a standalone day plan does): comparing whole plans
        keeps writes idempotent, and the driver skips ended periods. Returns True when the device was
        written. Raises DeviceError and keeps the previous record when the device refuses or cannot be
        reached. The caller holds `lock`. `publish=False` leaves publishing the status to the caller.
        """
        wanted = schedule if schedule is not None and schedule.periods else None
        current = self.record.schedule if self.record.schedule and self.record.schedule.periods else None
        unchanged = (wanted is None and current is None) or (wanted is not None and wanted.same_plan(current))
        if not unchanged:
            await self._write(wanted)
        if unchanged and self.record.schedule == schedule:
            return False
        self.record.schedule = schedule
        self.persist()
        if publish:
            await self.publish_status(self)
        return not unchanged

    async def _write(self, schedule: Schedule | None) -> None:
        try:
            if schedule is None:
                await self.device.clear_schedule()
            else:
                await self.device.apply_schedule(schedule)
        except DeviceError as exc:
            self.last_error = str(exc)
            log.warning("%s: device write failed: %s", self.key, exc)
            raise
        self.device_writes += 1
        self.last_error = None

    async def poll_status(self) -> None:
        """Read the device status once; a failure shows as state `error` with the reason."""
        try:
            self.status = await self.device.read_status()
            self.status_error = None
        except DeviceError as exc:
            if self.status_error != str(exc):
                log.warning("%s: status unavailable: %s", self.key, exc)
            self.status_error = str(exc)
            previous = self.status or DeviceStatus(state=ChargerState.ERROR)
            self.status = replace(previous, state=ChargerState.ERROR, online=False, error=str(exc))

    async def expire_if_due(self) -> None:
        """Clear the device once the schedule in force has reached `expires_at`."""
        record = self.record.schedule
        if record is None or not record.is_expired(self.clock.now()):
            return
        async with self.lock:
            record = self.record.schedule
            if record is None or not record.is_expired(self.clock.now()):
                return
            log.info("%s: %s schedule expired at %s; clearing", self.key, record.source, isoformat(record.expires_at))
            try:
                await self._write(None)
            except DeviceError:
                return  # retried at the next tick; the status shows the error
            self.record.schedule = None
            self.persist()
            await self.publish_status(self)

    def next_deadline(self, now: datetime) -> datetime | None:
        """The next moment the status changes by itself: a period boundary or the expiry."""
        schedule = self.record.schedule
        return schedule.next_change(now) if schedule is not None else None


def status_payload(runtime: DeviceRuntime, extra: dict[str, Any]) -> dict[str, Any]:
    """The contract's status payload for one device; `extra` adds the agent-wide optional fields."""
    now = runtime.clock.now()
    schedule = runtime.schedule
    status = runtime.status or DeviceStatus(state=ChargerState.IDLE, online=False)
    next_period = schedule.next_period(now) if schedule else None
    zone = extra.pop("_zone", None)
    takes_commands = extra.pop("_takes_hems_commands", True)

    def local(value: datetime | None) -> str | None:
        return isoformat(value.astimezone(zone) if value is not None and zone is not None else value)

    record = runtime.record
    payload: dict[str, Any] = {
        "state": status.state.value,
        "schedule_source": runtime.source.value,
        "schedule_active": bool(schedule and schedule.active_at(now)),
        "next_period_start": local(next_period.start if next_period else None),
        "next_period_end": local(next_period.end if next_period else None),
        "current_power_kw": round(status.current_power_kw, 3),
        "session_energy_kwh": None if status.session_energy_kwh is None else round(status.session_energy_kwh, 3),
        "ready_for_schedule": takes_commands and status.online and status.state is not ChargerState.ERROR,
        "last_hems_command_at": local(record.last_hems_command_at),
        "schedule_expires_at": local(schedule.expires_at if schedule else None),
        "max_current": schedule.max_current_a if schedule else None,
        "total_energy_kwh": None if status.total_energy_kwh is None else round(status.total_energy_kwh, 3),
        "online": status.online,
        "last_command_id": record.last_command_id,
        "last_command_result": _result_word(record.last_result),
        "last_error": runtime.status_error or runtime.last_error,
        "price_threshold_active": runtime.plan.threshold_active,
        "no_eligible_slots": runtime.plan.no_eligible_slots,
        "warnings": list(runtime.plan.warnings),
    }
    payload.update(extra)
    return payload


def _result_word(result: dict[str, Any] | None) -> str | None:
    if not result:
        return None
    return "accepted" if result.get("accepted") else "refused"


def dumps(payload: dict[str, Any]) -> bytes:
    """Compact JSON for MQTT payloads."""
    return json.dumps(payload, separators=(",", ":")).encode()
