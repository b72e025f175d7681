"""One Charge Amps connector as an energy-agent device.

Two control strategies:
- `schedule` (user-app API): the schedule is converted to the cloud's weekly format and written once; the
  charger follows it on its own, also while the agent is down, until `validTo` (= `expires_at`).
- `direct` (official API): the agent keeps the schedule and switches the connector On/Off at each period
  boundary. While the agent is down the connector stays in the mode last written.

Only with `schedule` control does the cloud hold a schedule to read back, so only that device type,
`ChargeAmpsScheduleConnector`, has `read_schedule` (the core's optional `ScheduleReader`). A direct-control
device holds nothing in the cloud but the connector's mode, and must not claim to be a reader.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from energy_agent.api import (
    ChargerState,
    DeviceCapabilities,
    DeviceContext,
    DeviceError,
    DeviceStatus,
    DeviceUnavailableError,
    HeldSchedule,
    Period,
    Schedule,
    ScheduleFollower,
)
from energy_agent_chargeamps.account import ChargeAmpsAccount, ConnectorReading
from energy_agent_chargeamps.client import SmartChargingSchedule
from energy_agent_chargeamps.config import MIN_CURRENT_A, ChargeAmpsConfig
from energy_agent_chargeamps.weekly import (
    WeeklyPeriod,
    WeeklySchedule,
    following,
    from_stored,
    to_weekly,
    to_wire_body,
)

log = logging.getLogger(__name__)

DEVICE_TYPE = "charge-amps"
HORIZON_S = 7 * 86400
MAX_PERIODS = 96
DIRECT_RECHECK_S = 60.0

_PLUGGED_IN_WORDS = frozenset({"occupied", "connected"})
"""The cloud's own words beside OCPP's."""


def charger_state(reading: ConnectorReading) -> ChargerState:
    """Map the cloud's connector status to the contract's state; unknown or numeric codes fall back on power."""
    if not reading.online:
        return ChargerState.ERROR
    if reading.is_charging or reading.power_kw > 0.05:
        return ChargerState.CHARGING
    if (reading.status or "").lower() in _PLUGGED_IN_WORDS:
        return ChargerState.PLUGGED_IN
    return ChargerState.of_ocpp_status(reading.status) or ChargerState.IDLE


class ChargeAmpsConnector:
    """A connector of a Charge Amps charge point (see the module docstring)."""

    device_type = DEVICE_TYPE

    def __init__(
        self,
        account: ChargeAmpsAccount,
        *,
        charge_point_id: str,
        connector_id: int,
        topic_id: str,
        name: str,
        config: ChargeAmpsConfig,
        context: DeviceContext,
    ) -> None:
        self.account = account
        self.charge_point_id = charge_point_id
        self.connector_id = connector_id
        self.topic_id = topic_id
        self.name = name
        self.config = config
        self.context = context
        self.status_interval_s = config.poll_interval_s
        self.capabilities = DeviceCapabilities(
            min_current_a=MIN_CURRENT_A,
            max_current_a=config.max_current_a,
            phases=3,
            control_strategy=config.control_strategy,
            horizon_s=HORIZON_S,
            max_periods=MAX_PERIODS,
            extra={"charge_point_id": charge_point_id, "connector_id": connector_id},
        )
        self._written_body: dict[str, Any] | None = None
        self._known_empty = False
        self._direct = ScheduleFollower(context.clock, self._switch, name=repr(self), recheck_s=DIRECT_RECHECK_S)
        self._direct_written: tuple[bool, float] | None = None
        self._session_start_kwh: float | None = None

    def __repr__(self) -> str:
        return f"ChargeAmpsConnector({self.charge_point_id}/{self.connector_id} as {self.topic_id!r})"

    async def start(self) -> None:
        """Take a share of the account; with direct control, start the boundary switcher."""
        self.account.acquire()
        if self.config.control_strategy == "direct":
            self._direct.start()

    async def close(self) -> None:
        """Stop the switcher and release the account."""
        await self._direct.stop()
        await self.account.release()

    # -- writes ------------------------------------------------------------------------------------
    async def apply_schedule(self, schedule: Schedule) -> None:
        """Write the schedule (schedule control) or take it over and switch now (direct control)."""
        if self.config.control_strategy == "direct":
            await self._direct.replace(schedule)
            return
        now = self.context.clock.now()
        weekly = to_weekly(schedule, now=now, tz=self.context.timezone, default_current_a=self.config.max_current_a)
        if not weekly.periods:
            await self.clear_schedule()
            return
        body = to_wire_body(
            weekly,
            charge_point_id=self.charge_point_id,
            connector_id=self.connector_id,
            tz_name=self.context.timezone.key,
        )
        if body == self._written_body:
            return
        await self.account.put_schedule(body)
        self._written_body = body
        self._known_empty = False
        log.info("%s: wrote %d weekly period(s) from %s", self, len(weekly.periods), body["startOfSchedule"])

    async def restore_schedule(self, schedule: Schedule) -> None:
        """After an agent restart: the cloud still holds a written schedule; direct control resumes switching."""
        if self.config.control_strategy == "direct":
            self._direct.resume(schedule)

    async def clear_schedule(self) -> None:
        """Remove the schedule (schedule control) or switch Off (direct control); twice clears once."""
        if self.config.control_strategy == "direct":
            await self._direct.replace(None)
            return
        if self._known_empty:
            return
        await self.account.delete_schedule(self.charge_point_id, self.connector_id)
        self._written_body = None
        self._known_empty = True
        log.info("%s: schedule deleted", self)

    async def _switch(self, schedule: Schedule | None, period: Period | None) -> None:
        """Direct control: connector On at the period's current inside a period, Off outside; no repeat writes."""
        if period is None or schedule is None:
            wanted = (False, self.config.max_current_a)
        else:
            wanted = (True, schedule.current_for(period) or self.config.max_current_a)
        if wanted == self._direct_written:
            return
        await self.account.set_connector(self.charge_point_id, self.connector_id, on=wanted[0], max_current_a=wanted[1])
        self._direct_written = wanted
        log.info("%s: switched %s at %.0f A", self, "On" if wanted[0] else "Off", wanted[1])

    # -- status ------------------------------------------------------------------------------------
    async def read_status(self) -> DeviceStatus:
        """The connector's status from the cloud; session energy counts from when a car was seen plugged in."""
        reading = await self.account.reading(self.charge_point_id, self.connector_id)
        if reading is None:
            raise DeviceUnavailableError(
                f"Charge Amps: connector {self.connector_id} of charge point {self.charge_point_id} "
                "is not in the account"
            )
        state = charger_state(reading)
        if state is ChargerState.IDLE:
            self._session_start_kwh = None
        elif self._session_start_kwh is None and reading.total_energy_kwh is not None:
            self._session_start_kwh = reading.total_energy_kwh
        session_kwh = (
            None
            if self._session_start_kwh is None or reading.total_energy_kwh is None
            else max(0.0, reading.total_energy_kwh - self._session_start_kwh)
        )
        return DeviceStatus(
            state=state,
            online=reading.online,
            current_power_kw=reading.power_kw,
            session_energy_kwh=session_kwh,
            total_energy_kwh=reading.total_energy_kwh,
            error=None if reading.online else "charge point offline",
        )


class ChargeAmpsScheduleConnector(ChargeAmpsConnector):
    """A connector under schedule control (user-app API): the cloud holds its weekly schedule, which this
    device reads back (`ScheduleReader`), so the agent can report what the charger will do, not what it meant
    to write: a write whose answer was lost may have landed, and the owner's phone app may have replaced or
    deleted the schedule since."""

    async def read_schedule(self) -> HeldSchedule:
        """What the connector will do over the coming week, read from the cloud.

        The stored weekly schedule is unrolled from the device clock's now over `HORIZON_S` (7 days) into
        absolute periods with their current, touching ones of equal current merged, 0 A pauses left out.
        Nothing runs (no periods) when the cloud holds no schedule for the connector, when the schedule is
        disabled (`isActive: false`), or when the connector's mode is Off; in mode On the connector charges
        regardless of the schedule (one period over the horizon, no current limit of the schedule's). The mode
        comes from the status reading (at most half a poll interval old, and read afresh after the agent's own
        writes, which change it).

        Raises DeviceUnavailableError/DeviceAuthError when the cloud cannot be read, DeviceError when its
        answer is malformed (the message names what is wrong, never the answer itself).
        """
        now = self.context.clock.now()
        horizon_end = now + timedelta(seconds=HORIZON_S)
        stored = await self.account.stored_schedule(self.charge_point_id, self.connector_id)
        reading = await self.account.reading(self.charge_point_id, self.connector_id)
        mode = reading.mode if reading is not None else None
        self._forget_write_unless_held(stored, mode)
        if mode == "Off":
            return HeldSchedule(periods=(), read_at=now, detail="connector mode Off: does not charge")
        if mode == "On":
            return HeldSchedule(
                periods=(Period(now, horizon_end),),
                read_at=now,
                detail="connector mode On: charges whenever a car is plugged in; the schedule is not used",
            )
        if stored is None:
            return HeldSchedule(periods=(), read_at=now, detail="no schedule stored for this connector")
        weekly = self._weekly(stored)
        if stored.is_active is False:
            return HeldSchedule(
                periods=(),
                read_at=now,
                valid_until=weekly.valid_to,
                detail=f"schedule {stored.schedule_id} is stored but disabled (isActive false)",
            )
        periods = tuple(
            Period(start, end, current_a)
            for start, end, current_a in following(weekly, now, horizon_end)
            if current_a > 0
        )
        return HeldSchedule(
            periods=periods,
            read_at=now,
            valid_until=weekly.valid_to,
            detail=_describe(stored, weekly.periods, weekly.default_current_a),
        )

    def _forget_write_unless_held(self, stored: SmartChargingSchedule | None, mode: str | None) -> None:
        """Drop the memory of the last write when the cloud no longer holds it (the owner's app replaced or
        deleted it, or switched the connector out of Schedule mode), so the next `apply_schedule` of the same
        schedule writes it again instead of skipping it as already written."""
        if stored is None:
            self._written_body = None
            self._known_empty = True
            return
        self._known_empty = False
        if self._written_body is None:
            return
        written = SmartChargingSchedule.model_validate(self._written_body)
        fields = ("start_of_schedule", "schedule_periods", "valid_from", "valid_to", "is_active", "default_current_a")
        if (mode not in (None, "Schedule")) or any(getattr(stored, f) != getattr(written, f) for f in fields):
            self._written_body = None

    def _weekly(self, stored: SmartChargingSchedule) -> WeeklySchedule:
        try:
            return from_stored(
                start_of_schedule=stored.start_of_schedule,
                periods=[(p.from_s, p.to_s, p.max_current_a) for p in stored.schedule_periods],
                valid_from=stored.valid_from,
                valid_to=stored.valid_to,
                default_current_a=stored.default_current_a,
            )
        except ValueError as exc:
            raise DeviceError(
                f"Charge Amps: the schedule stored for connector {self.connector_id} of charge point "
                f"{self.charge_point_id} is malformed: {exc}"
            ) from None


def _describe(stored: SmartChargingSchedule, periods: tuple[WeeklyPeriod, ...], default_current_a: float) -> str:
    """A one-line description of a stored weekly schedule, for display."""
    parts = [f"weekly schedule {stored.schedule_id}: {len(periods)} period(s) a week"]
    if stored.time_zone:
        parts.append(f"zone {stored.time_zone}")
    if default_current_a > 0:
        parts.append(f"{default_current_a:g} A between periods")
    if stored.valid_to is not None:
        parts.append(f"until {stored.valid_to:%Y-%m-%d %H:%M} UTC")
    return ", ".join(parts)
