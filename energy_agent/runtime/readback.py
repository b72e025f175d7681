"""Read-back: what each device holds, compared with what the agent wants it to hold, and what is done about it.

A device that implements `ScheduleReader` is read at start, soon after a write whose outcome is unknown (the
device did not answer in time, or the agent was killed during the write), and every `read_back.interval_s`.
Every read runs as a job of the device's queue, so it never overlaps a write. The outcome:

- **in sync**: the device holds what the agent wants (compared over the coming `WINDOW`, to the minute);
- **a write that was thought failed did land**: the agent takes it as the schedule in force;
- **nothing written yet** (a first start): what the device holds is shown, never changed;
- **a lost state file** (unreadable at start) while the device holds a plan: the agent takes up that plan, so
  that the status says what the device will do;
- **drift** (edited or deleted behind the agent's back, say in the vendor's phone app): counted, logged, and
  with `read_back.on_drift: repair` (the default, in both modes) the agent's schedule is written again and read
  back once more; with `report` it is only shown (`applied.in_sync: false` in the status).

The agent's schedule wins by default in both modes because it is the one the HEMS was told is in force (hems)
or the one the owner configured (standalone); an owner who wants the app to win sets `on_drift: report`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from energy_agent.api.clock import Clock, sleep_or_until
from energy_agent.api.devices import ScheduleReader, ScheduleRestorer
from energy_agent.api.domain import HeldSchedule, Period, Schedule, ScheduleSource, isoformat, merge_periods
from energy_agent.api.errors import DeviceError
from energy_agent.config import ReadBackSettings
from energy_agent.runtime.devices import DeviceRuntime
from energy_agent.runtime.modes import ModeControl

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
"""How far ahead held and wanted periods are compared."""
TIME_TOLERANCE = timedelta(seconds=60)
"""Period edges this close count as equal (devices store minutes)."""
CURRENT_TOLERANCE_A = 0.5
"""Current limits this close count as equal (devices round to whole or half amperes)."""
AFTER_UNSURE_WRITE_S = 5.0
"""How long after a write of unknown outcome the device is read back (the cloud may still be finishing it)."""


def _clipped(periods: tuple[Period, ...], start: datetime, end: datetime) -> list[Period]:
    return [
        Period(max(p.start, start), min(p.end, end), p.max_current_a)
        for p in merge_periods(periods)
        if p.end > start and p.start < end
    ]


def wanted_periods(schedule: Schedule | None, now: datetime) -> tuple[Period, ...]:
    """What the device should run from `now` on, each period with its effective current (None: no limit)."""
    if schedule is None or schedule.is_expired(now):
        return ()
    end = schedule.expires_at or now + WINDOW
    periods = tuple(replace(p, max_current_a=schedule.current_for(p)) for p in schedule.periods)
    return tuple(_clipped(periods, now, end))


def difference(schedule: Schedule | None, held: HeldSchedule, now: datetime) -> str | None:
    """How what `held` will do over the coming WINDOW differs from `schedule`; None when it does not."""
    until = now + WINDOW
    if schedule is not None and schedule.expires_at is not None:
        until = min(until, schedule.expires_at)
    if held.valid_until is not None:
        until = min(until, max(held.valid_until, now))
    if until <= now:
        return None
    want = _clipped(wanted_periods(schedule, now), now, until)
    have = _clipped(held.periods, now, until)
    if len(want) == len(have) and all(_same(w, h) for w, h in zip(want, have, strict=True)):
        return None
    return f"the device holds {_describe(have)}; the agent wants {_describe(want)}"


def _same(wanted: Period, found: Period) -> bool:
    """Equal within the tolerances; a current is compared only where both sides limit it."""
    edges_match = abs(wanted.start - found.start) <= TIME_TOLERANCE and abs(wanted.end - found.end) <= TIME_TOLERANCE
    if wanted.max_current_a is None or found.max_current_a is None:
        return edges_match
    return edges_match and abs(wanted.max_current_a - found.max_current_a) <= CURRENT_TOLERANCE_A


def _describe(periods: list[Period]) -> str:
    if not periods:
        return "no period"
    shown = ", ".join(
        f"{isoformat(p.start)}–{isoformat(p.end)}"
        + (f" at {p.max_current_a:g} A" if p.max_current_a is not None else "")
        for p in periods[:3]
    )
    more = f" and {len(periods) - 3} more" if len(periods) > 3 else ""
    return f"{len(periods)} period(s) ({shown}{more})"


@dataclass
class ReadBack:
    """Reads devices back and acts on what it finds (see the module docstring)."""

    settings: ReadBackSettings
    modes: ModeControl
    clock: Clock

    async def run(self, runtime: DeviceRuntime) -> None:
        """Read the device at start, soon after every write, and every `interval_s` (a task per device that
        reads back)."""
        while True:
            await runtime.submit(lambda: self.check(runtime))
            delay_s = AFTER_UNSURE_WRITE_S if runtime.unsure_write else self.settings.interval_s
            await sleep_or_until(self.clock, delay_s, runtime.read_back_wanted)
            if runtime.read_back_wanted.is_set():
                runtime.read_back_wanted.clear()
                await self.clock.sleep(AFTER_UNSURE_WRITE_S)  # the device may still be taking the write

    async def check(self, runtime: DeviceRuntime) -> None:
        """Read the device once and act on what it holds (run as a job of the device's queue)."""
        held = await self._read(runtime)
        if held is not None:
            await self._act(runtime, held)
        runtime.changed()

    async def _read(self, runtime: DeviceRuntime) -> HeldSchedule | None:
        device = runtime.device
        assert isinstance(device, ScheduleReader)
        try:
            held = await device.read_schedule()
        except DeviceError as exc:
            if runtime.read_error != str(exc):
                log.warning("%s: could not read back what the device holds: %s", runtime.key, exc)
            runtime.read_error = str(exc)
            return None
        runtime.read_error = None
        return held

    async def _act(self, runtime: DeviceRuntime, held: HeldSchedule) -> None:
        now = self.clock.now()
        attempted = runtime.unsure_write
        if attempted is not None and difference(attempted.schedule, held, now) is None:
            runtime.unsure_write = None
            if difference(runtime.schedule, held, now) is not None:
                log.warning(
                    "%s: the write that was not confirmed did reach the device; it is now the schedule in force",
                    runtime.key,
                )
                runtime.adopt(attempted.schedule)
                await self._resume(runtime)
            runtime.observe(held, in_sync=True)
            return
        found = difference(runtime.schedule, held, now)
        if found is None or not runtime.record.known:
            # In sync, or the agent never wrote this device (a first start) or lost its state file: nothing to
            # repair to; after a lost state file the plan the device holds is taken up.
            if (
                found is not None
                and runtime.record.lost
                and runtime.schedule is None
                and self._take_up(runtime, held, now)
            ):
                await self._resume(runtime)
                found = None
            runtime.observe(held, in_sync=found is None)
            return
        runtime.drifts_found += 1
        runtime.observe(held, in_sync=False)
        if self.settings.on_drift == "report":
            log.warning("%s: drift: %s (read_back.on_drift: report, left as it is)", runtime.key, found)
            return
        log.warning("%s: drift: %s; writing the agent's schedule again", runtime.key, found)
        device = runtime.device
        assert isinstance(device, ScheduleReader)
        try:
            await runtime.rewrite()
            held = await device.read_schedule()
        except DeviceError as exc:
            log.warning("%s: drift not repaired yet: %s", runtime.key, exc)
            return
        repaired = difference(runtime.schedule, held, self.clock.now()) is None
        runtime.observe(held, in_sync=repaired)
        runtime.drifts_repaired += int(repaired)

    def _take_up(self, runtime: DeviceRuntime, held: HeldSchedule, now: datetime) -> bool:
        """The state file was lost but the device holds a plan: take it up until its last held period ends, so the
        status tells what the device will do. False when nothing is held in the coming WINDOW."""
        periods = tuple(_clipped(held.periods, now, now + WINDOW))
        if not periods:
            return False
        source = ScheduleSource.HEMS if self.modes.takes_hems_commands else ScheduleSource.STANDALONE
        expires = held.valid_until or periods[-1].end
        schedule = Schedule(periods=periods, source=source, expires_at=expires)
        log.warning(
            "%s: no record of what the agent wrote, but the device holds %s; taken up as the %s schedule until %s",
            runtime.key,
            _describe(list(periods)),
            source.value,
            isoformat(expires),
        )
        runtime.adopt(schedule)
        return True

    @staticmethod
    async def _resume(runtime: DeviceRuntime) -> None:
        """A device that follows its schedule in memory is told the one now in force (as after a restart)."""
        device, schedule = runtime.device, runtime.schedule
        if isinstance(device, ScheduleRestorer) and schedule is not None:
            try:
                await device.restore_schedule(schedule)
            except DeviceError as exc:
                log.warning("%s: could not resume the schedule read back: %s", runtime.key, exc)
