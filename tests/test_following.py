"""ScheduleFollower: switches at boundaries and expiry on the injected clock, retries failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from energy_agent.api.domain import Period, Schedule, ScheduleSource
from energy_agent.api.errors import DeviceUnavailableError
from energy_agent.api.following import ScheduleFollower
from energy_agent.testing.clock import ManualClock

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class FakeSwitch:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.on: bool | None = None
        self.log: list[tuple[datetime, bool]] = []
        self.failures = 0

    async def sync(self, schedule: Schedule | None, period: Period | None) -> None:
        wanted = period is not None
        if wanted == self.on:
            return
        if self.failures:
            self.failures -= 1
            raise DeviceUnavailableError("switch unreachable")
        self.on = wanted
        self.log.append((self.clock.now(), wanted))


def schedule(*hours: tuple[float, float], expires_h: float | None = None) -> Schedule:
    return Schedule(
        periods=tuple(Period(T0 + timedelta(hours=a), T0 + timedelta(hours=b)) for a, b in hours),
        source=ScheduleSource.HEMS,
        expires_at=T0 + timedelta(hours=expires_h) if expires_h else None,
    )


async def test_switches_at_each_boundary_and_at_expiry() -> None:
    clock = ManualClock(T0)
    switch = FakeSwitch(clock)
    follower = ScheduleFollower(clock, switch.sync, name="test")
    follower.start()
    await follower.replace(schedule((1, 2), (3, 5), expires_h=4))
    await clock.advance(6 * 3600)
    await follower.stop()
    assert [(t - T0, on) for t, on in switch.log] == [
        (timedelta(0), False),
        (timedelta(hours=1), True),
        (timedelta(hours=2), False),
        (timedelta(hours=3), True),
        (timedelta(hours=4), False),
    ]


async def test_a_failed_switch_keeps_the_previous_schedule_and_is_retried() -> None:
    clock = ManualClock(T0)
    switch = FakeSwitch(clock)
    follower = ScheduleFollower(clock, switch.sync, name="test", recheck_s=60)
    follower.start()
    await follower.replace(None)
    switch.failures = 1
    with pytest.raises(DeviceUnavailableError):
        await follower.replace(schedule((0, 1)))
    assert follower.schedule is None
    follower.resume(schedule((0, 1)))  # as after a restart: the loop retries on its own
    switch.failures = 1
    await clock.advance(1)
    await clock.advance(60)
    await follower.stop()
    assert switch.on is True
