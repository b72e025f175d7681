"""The example device. It only pretends: replace the parts marked YOUR DEVICE with calls to the real one.

It stands for a device that keeps a schedule itself (control strategy `schedule`): the agent hands it the
whole schedule and the device runs during its periods. Translate every failure of your device into the
core's DeviceError subclasses (energy_agent.errors) here, at the boundary.
"""

from __future__ import annotations

import logging

from energy_agent.api import ChargerState, DeviceCapabilities, DeviceContext, DeviceStatus, Schedule

log = logging.getLogger(__name__)

DEVICE_TYPE = "example"
"""Topic segment of the family: hems/example/{id}/..."""


class ExampleDevice:
    """One example device (see the module docstring); satisfies energy_agent.devices.Device."""

    device_type = DEVICE_TYPE
    status_interval_s = 60.0

    def __init__(self, topic_id: str, name: str, power_kw: float, context: DeviceContext) -> None:
        self.topic_id = topic_id
        self.name = name
        self.power_kw = power_kw
        self.context = context
        self.capabilities = DeviceCapabilities(
            min_current_a=0.0,  # 0..0 A: a device that runs or not, with no current limit
            max_current_a=0.0,
            phases=1,
            control_strategy="schedule",
            horizon_s=2 * 86400,
            max_periods=48,
        )
        self.schedule: Schedule | None = None
        self.started = False

    async def start(self) -> None:
        """YOUR DEVICE: open connections."""
        self.started = True

    async def close(self) -> None:
        """YOUR DEVICE: close connections."""
        self.started = False

    async def apply_schedule(self, schedule: Schedule) -> None:
        """YOUR DEVICE: write the schedule; raise a DeviceError subclass when the device refuses or is away."""
        self.schedule = schedule
        log.info("%s: schedule with %d period(s) applied", self.topic_id, len(schedule.periods))

    async def clear_schedule(self) -> None:
        """YOUR DEVICE: remove the schedule and stop running."""
        self.schedule = None

    async def read_status(self) -> DeviceStatus:
        """YOUR DEVICE: read its state; here it runs whenever a period of its schedule is active."""
        running = self.schedule is not None and self.schedule.active_at(self.context.clock.now()) is not None
        return DeviceStatus(
            state=ChargerState.CHARGING if running else ChargerState.IDLE,
            current_power_kw=self.power_kw if running else 0.0,
        )
