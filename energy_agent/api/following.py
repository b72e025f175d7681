"""For devices that follow a schedule themselves (no schedule memory in the device or its cloud).

A `ScheduleFollower` keeps the schedule, calls the device's `sync` at once on every change and at every
period boundary or expiry, and re-checks every `recheck_s` so a failed switch is retried. The device's
`sync(period)` makes the device do what `period` says (None: off) and should skip the write when the device
already does that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from energy_agent.api.clock import Clock, sleep_or_until
from energy_agent.api.domain import Period, Schedule
from energy_agent.api.errors import DeviceError

log = logging.getLogger(__name__)

SyncFn = Callable[[Schedule | None, Period | None], Awaitable[None]]


class ScheduleFollower:
    """See the module docstring; `start()` after the device has started, `stop()` before it closes."""

    def __init__(self, clock: Clock, sync: SyncFn, *, name: str, recheck_s: float = 60.0) -> None:
        self.clock = clock
        self._sync = sync
        self.name = name
        self.recheck_s = recheck_s
        self.schedule: Schedule | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start following (an empty schedule: the device is kept off)."""
        self._task = asyncio.create_task(self._follow(), name=f"follow {self.name}")

    async def stop(self) -> None:
        """Stop following; the device stays as it is."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def replace(self, schedule: Schedule | None) -> None:
        """Follow `schedule` from now on, syncing at once; on DeviceError the previous schedule stays."""
        async with self._lock:
            previous, self.schedule = self.schedule, schedule
            try:
                await self._sync_locked()
            except DeviceError:
                self.schedule = previous
                raise
        self._wake.set()

    def resume(self, schedule: Schedule) -> None:
        """Follow a schedule restored after a restart; the loop syncs (and retries) on its own."""
        self.schedule = schedule
        self._wake.set()

    async def _sync_locked(self) -> None:
        schedule = self.schedule
        await self._sync(schedule, schedule.active_at(self.clock.now()) if schedule else None)

    async def _follow(self) -> None:
        while True:
            self._wake.clear()
            try:
                async with self._lock:
                    await self._sync_locked()
            except DeviceError as exc:
                log.warning("%s: switching failed, retrying within %.0f s: %s", self.name, self.recheck_s, exc)
            now = self.clock.now()
            change = self.schedule.next_change(now) if self.schedule else None
            wait_s = self.recheck_s if change is None else min(self.recheck_s, (change - now).total_seconds())
            await sleep_or_until(self.clock, wait_s, self._wake)
