"""One device as the agent runs it: the schedule it should hold, ordered writes, status readings.

Every write to a device goes through its `queue` (one job at a time, in arrival order): HEMS commands, the
standalone planner, expiry and mode switches alike. A runtime never calls back into the agent: it emits
`DeviceChanged` and the publishers and adapters take it from there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from energy_agent.api.clock import Clock
from energy_agent.api.devices import Device, ScheduleReader
from energy_agent.api.domain import ChargerState, DeviceStatus, HeldSchedule, Schedule, isoformat
from energy_agent.api.errors import DeviceAuthError, DeviceError, DeviceRejectedError
from energy_agent.api.planning import EnergySummary
from energy_agent.hems.payloads import DeviceFacts
from energy_agent.runtime.events import DeviceChanged, DeviceOnline, Events
from energy_agent.runtime.serial import SerialQueue
from energy_agent.runtime.state import DeviceRecord, StateSaver

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class PlanInfo:
    """What the standalone planner last concluded for this device (shown in status and entities)."""

    threshold_active: bool = False
    no_eligible_slots: bool = False
    warnings: tuple[str, ...] = ()
    energy: EnergySummary | None = None
    """What the plan delivers by the departure (policy `ready-by`); None under any other policy."""


@dataclass(frozen=True)
class Attempt:
    """A write whose outcome is unknown: the schedule it carried (None: a clear)."""

    schedule: Schedule | None

    def to_json(self) -> dict[str, Any]:
        """The form kept in the state file while the write is in flight."""
        return {"schedule": self.schedule.to_json() if self.schedule else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attempt:
        """Inverse of `to_json`."""
        return cls(Schedule.from_json(data["schedule"]) if data.get("schedule") else None)


@dataclass
class DeviceRuntime:
    """A device plus the agent's knowledge of it. Writes run as jobs of `queue` (see the module docstring)."""

    device: Device
    record: DeviceRecord
    clock: Clock
    saver: StateSaver
    events: Events
    status: DeviceStatus | None = None
    status_error: str | None = None
    last_error: str | None = None
    plan: PlanInfo = field(default_factory=PlanInfo)
    device_writes: int = 0
    last_answer: dict[str, Any] | None = None
    """The answer to the last HEMS command this run (refused or not); the status shows its outcome."""
    held: HeldSchedule | None = None
    """What the device was last read back to hold (devices that can be read back; see runtime/readback.py)."""
    in_sync: bool | None = None
    """Whether `held` matched what the agent wants when it was read."""
    read_error: str | None = None
    drifts_found: int = 0
    drifts_repaired: int = 0
    unsure_write: Attempt | None = None
    """The last write whose outcome is unknown (timeout, unreachable, killed during it), until read back."""
    queue: SerialQueue = field(init=False)
    read_back_wanted: asyncio.Event = field(init=False)
    reads_back: bool = field(init=False)
    """The device can say what it holds (`ScheduleReader`): its writes are confirmed by reading it back. Checked
    once: a Protocol isinstance check costs microseconds, too many for every write."""

    def __post_init__(self) -> None:
        self.reads_back = isinstance(self.device, ScheduleReader)
        self.queue = SerialQueue()
        self.read_back_wanted = asyncio.Event()
        if self.record.in_flight is not None:
            self.unsure_write = Attempt.from_json(self.record.in_flight)

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

    def submit(self, job: Callable[[], Awaitable[T]]) -> Awaitable[T]:
        """Queue a job that writes this device; it runs after every job submitted before it."""
        return self.queue.submit(job)

    def changed(self) -> None:
        """Tell the listeners that this device's status changed."""
        self.events.emit(DeviceChanged(self.key))

    async def put_schedule(self, schedule: Schedule | None, *, announce: bool = True) -> bool:
        """Make `schedule` the one in force (None or no periods: nothing runs); no device call when unchanged.

        Run inside a job of `queue`. A schedule may hold periods that already ended (a standalone day plan
        does): comparing whole plans keeps writes idempotent, and the driver skips ended periods. Returns True
        when the device was written. Raises DeviceError and keeps the previous record when the device refuses or
        cannot be reached. `announce=False` leaves the DeviceChanged notice to the caller.
        """
        wanted = schedule if schedule is not None and schedule.periods else None
        current = self.record.schedule if self.record.schedule and self.record.schedule.periods else None
        unchanged = (wanted is None and current is None) or (wanted is not None and wanted.same_plan(current))
        if not unchanged:
            await self._write(wanted)
        if unchanged and self.record.schedule == schedule:
            return False
        self.record.schedule = schedule
        self.record.known = True
        self.saver.changed()
        if announce:
            self.changed()
        return not unchanged

    async def _write(self, schedule: Schedule | None) -> None:
        """Write the device. On a device that reads back, the write is saved as in flight first (a kill during the
        call leaves it on disk) and a write that may or may not have landed is read back soon (`unsure_write`)."""
        attempt = Attempt(schedule)
        if self.reads_back:
            self.record.in_flight = attempt.to_json()
            await self.saver.write_ahead()
        try:
            if schedule is None:
                await self.device.clear_schedule()
            else:
                await self.device.apply_schedule(schedule)
        except DeviceError as exc:
            self.last_error = str(exc)
            log.warning("%s: device write failed: %s", self.key, exc)
            if self.reads_back:
                if isinstance(exc, DeviceRejectedError | DeviceAuthError):
                    self.record.in_flight = None  # refused outright: it did not land
                else:
                    self.unsure_write = attempt
                    self.read_back_wanted.set()
                self.saver.changed()
            raise
        self.record.in_flight = None
        self.unsure_write = None
        self.read_back_wanted.set()  # confirm what the device now holds
        self.device_writes += 1
        self.last_error = None

    async def rewrite(self) -> None:
        """Write the schedule in force again (a drift repair; run inside a job of `queue`)."""
        schedule = self.schedule
        await self._write(schedule if schedule is not None and schedule.periods else None)

    def observe(self, held: HeldSchedule, *, in_sync: bool) -> None:
        """Remember what the device was read back to hold."""
        self.held = held
        self.in_sync = in_sync

    def adopt(self, schedule: Schedule | None) -> None:
        """Take `schedule` as the one in force without writing it: the device was read back to hold it."""
        self.record.schedule = schedule
        self.record.known = True
        self.record.in_flight = None
        if schedule is not None and schedule.command_id is not None:
            self.record.last_command_id = schedule.command_id  # the command that took effect after all
        self.saver.changed()

    async def poll_status(self) -> None:
        """Read the device status once; a failure shows as state `error` with the reason. A device back online
        is announced (`DeviceOnline`): a write it missed while away can be made now."""
        was_offline = self.status is not None and not self.status.online
        try:
            self.status = await self.device.read_status()
            self.status_error = None
            if was_offline and self.status.online:
                self.events.emit(DeviceOnline(self.key))
        except DeviceError as exc:
            if self.status_error != str(exc):
                log.warning("%s: status unavailable: %s", self.key, exc)
            self.status_error = str(exc)
            previous = self.status or DeviceStatus(state=ChargerState.ERROR)
            self.status = replace(previous, state=ChargerState.ERROR, online=False, error=str(exc))

    def expiry_due(self) -> bool:
        """The schedule on record has reached its `expires_at` and is still to be cleared."""
        record = self.record.schedule
        return record is not None and record.is_expired(self.clock.now())

    async def expire(self) -> None:
        """Clear the device once the schedule on record has expired (run inside a job of `queue`)."""
        record = self.record.schedule
        if record is None or not record.is_expired(self.clock.now()):
            return
        log.info("%s: %s schedule expired at %s; clearing", self.key, record.source, isoformat(record.expires_at))
        try:
            await self._write(None)
        except DeviceError:
            return  # retried at the next tick; the status shows the error
        self.record.schedule = None
        self.record.known = True
        self.saver.changed()
        self.changed()

    def next_deadline(self, now: datetime) -> datetime | None:
        """The next moment the status changes by itself: a period boundary or the expiry."""
        schedule = self.record.schedule
        return schedule.next_change(now) if schedule is not None else None

    def facts(self) -> DeviceFacts:
        """What the status payload shows of this device."""
        record = self.record
        last = self.last_answer or record.last_result
        return DeviceFacts(
            schedule=self.schedule,
            status=self.status,
            last_hems_command_at=record.last_hems_command_at,
            last_command_id=record.last_command_id,
            last_command_accepted=None if not last else bool(last.get("accepted")),
            last_error=self.status_error or self.last_error,
            threshold_active=self.plan.threshold_active,
            no_eligible_slots=self.plan.no_eligible_slots,
            warnings=self.plan.warnings,
            held=self.held,
            in_sync=bool(self.in_sync),
            drift_count=self.drifts_found,
            energy=self.plan.energy,
            charge_now=self.record.charge_now_since is not None,
        )
