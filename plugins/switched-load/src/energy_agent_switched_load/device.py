"""A switched load as an energy-agent device: it follows its schedule by itself, switching at period edges.

The agent hands over a whole schedule (standalone day plans include periods that already ended); the
load keeps it and switches on when a period starts and off when it ends, when the schedule expires, or
when it is cleared. The core's `ScheduleFollower` wakes at each edge on the injected clock, and every
minute so that a failed switch is retried. The load switches at edges only: a manual change in between is
left alone until the next edge. With no schedule (also right after start) the load is switched off.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from energy_agent.api import (
    ChargerState,
    DeviceCapabilities,
    DeviceContext,
    DeviceStatus,
    Period,
    Schedule,
    ScheduleFollower,
)
from energy_agent_switched_load.config import HomeAssistantLoadConfig, MqttLoadConfig
from energy_agent_switched_load.drivers import Switch

log = logging.getLogger(__name__)

DEVICE_TYPE = "switched-load"
CONTROL_STRATEGY = "direct"
HORIZON_S = 7 * 86400
MAX_PERIODS = 96
RECHECK_S = 60.0


class SwitchedLoad:
    """One on/off load (see the module docstring)."""

    device_type = DEVICE_TYPE

    def __init__(
        self, config: HomeAssistantLoadConfig | MqttLoadConfig, switch: Switch, context: DeviceContext
    ) -> None:
        self.config = config
        self.switch = switch
        self.context = context
        self.topic_id = config.id
        self.name = config.display_name
        self.status_interval_s = config.poll_interval_s
        # An on/off load takes no current limit: it announces the range 0..0 A.
        self.capabilities = DeviceCapabilities(
            min_current_a=0.0,
            max_current_a=0.0,
            phases=config.phases,
            control_strategy=CONTROL_STRATEGY,
            horizon_s=HORIZON_S,
            max_periods=MAX_PERIODS,
            extra={"power_kw": config.power_kw, "driver": config.driver},
        )
        self.policy_options: Mapping[str, Any] = {
            "hours_per_day": config.hours_per_day,
            "price_cap_eur_kwh": config.price_cap_eur_kwh,
            "policy": config.policy,
            "ready_by": config.ready_by,
            "energy_kwh": config.energy_kwh,
        }
        self._switched: bool | None = None
        """What was last written to the switch; None before the first write."""
        self._follower = ScheduleFollower(context.clock, self._sync, name=repr(self), recheck_s=RECHECK_S)

    def __repr__(self) -> str:
        return f"SwitchedLoad({self.topic_id!r} via {self.config.driver})"

    @property
    def switched_on(self) -> bool | None:
        """What the load was last switched to (None: not switched yet)."""
        return self._switched

    async def start(self) -> None:
        """Start the driver and the task that switches at period edges."""
        await self.switch.start()
        self._follower.start()

    async def close(self) -> None:
        """Stop following the schedule and release the driver (the load stays as it is)."""
        await self._follower.stop()
        await self.switch.close()

    async def apply_schedule(self, schedule: Schedule) -> None:
        """Follow `schedule` from now on, switching at once if that changes the state now.

        When that switch fails the previous schedule stays in force and DeviceError is raised.
        """
        await self._follower.replace(schedule)

    async def restore_schedule(self, schedule: Schedule) -> None:
        """After an agent restart, follow the schedule the agent restored (the switch loop retries failures)."""
        self._follower.resume(schedule)

    async def clear_schedule(self) -> None:
        """Drop the schedule and switch off."""
        await self._follower.replace(None)

    async def _sync(self, schedule: Schedule | None, period: Period | None) -> None:
        wanted = period is not None
        if wanted == self._switched:
            return
        await self.switch.turn(wanted)
        self._switched = wanted
        log.info("%s: switched %s", self, "on" if wanted else "off")

    async def read_status(self) -> DeviceStatus:
        """On or off, from the switch (or from the last command when the driver cannot tell).

        The status vocabulary is the charger's: a running load reports `charging`, an idle one `idle`.
        Power is the load's rating while on; energy is not measured.
        """
        reported = await self.switch.read_on()
        on = self._switched if reported is None else reported
        return DeviceStatus(
            state=ChargerState.CHARGING if on else ChargerState.IDLE,
            online=True,
            current_power_kw=self.config.power_kw if on else 0.0,
        )
