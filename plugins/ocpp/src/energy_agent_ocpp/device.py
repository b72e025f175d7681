"""One connector of an OCPP charge point as an energy-agent device: the charger holds its plan as a charging profile.

A schedule is written once as a profile (see `profiles`); the charger follows it by itself, also while the
agent is away, until `validTo` = `expires_at`. A clear writes a profile that holds 0 A. The answer to the
agent comes only after the charger answered `Accepted`; when it refuses, the fallback chain is tried, and
when nothing is accepted the write fails with the charger's answers. A (re)connecting charger gets the base
profile and the plan in force again; a write that asks for what the charger already holds sends nothing.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Final

from ocpp.v16 import call, enums

from energy_agent.api import (
    ChargerState,
    DeviceCapabilities,
    DeviceContext,
    DeviceRejectedError,
    DeviceStatus,
    HeldSchedule,
    Schedule,
    ScheduleSource,
)
from energy_agent_ocpp.central import CentralSystem
from energy_agent_ocpp.config import DEVICE_TYPE, ChargePointConfig, OcppConfig
from energy_agent_ocpp.profiles import (
    BASE_STACK_LEVEL,
    LimitSchedule,
    Placement,
    ProfileDoesNotFit,
    Role,
    charging_profile,
    check_fits,
    fallback_chain,
    held_from_composite,
    hold,
    limit_schedule,
    ocpp_time,
    plan_stack_level,
)
from energy_agent_ocpp.session import ChargePointSession

log = logging.getLogger(__name__)

CONTROL_STRATEGY = "schedule"
"""The charger keeps the plan and follows it on its own."""
HORIZON_S = 7 * 86400
MAX_PERIODS = 48
"""Announced to the HEMS; the charger's own ChargingScheduleMaxPeriods is checked at each write."""
READ_BACK_S = 86400
"""How far ahead `read_schedule` asks the charger when the plan has no expiry."""


CLEAR: Final = Schedule(periods=(), source=ScheduleSource.NONE)
"""The plan after a clear: no period, so 0 A without end."""


def describe(limits: LimitSchedule) -> str:
    """A profile's limits in one line, e.g. `0 A from 09:00:00Z, 10 A from 10:00:00Z, …; valid to …`."""
    steps = ", ".join(
        f"{limit:g} A from {ocpp_time(limits.start + timedelta(seconds=offset))[11:]}"
        for offset, limit in limits.periods
    )
    return f"{steps}; valid to {ocpp_time(limits.valid_to) if limits.valid_to else 'no end'}"


class OcppConnector:
    """A connector of a charge point connected to the agent's central system (see the module docstring).

    Its topics are `hems/{device_type}/{topic_id}/…`: `ocpp` for the `ocpp:` section's chargers, `charge-amps`
    for a Charge Amps charger driven over OCPP (the Charge Amps plugin's `api: ocpp`).
    """

    def __init__(
        self,
        central: CentralSystem,
        charge_point: ChargePointConfig,
        connector_id: int,
        *,
        config: OcppConfig,
        context: DeviceContext,
        device_type: str = DEVICE_TYPE,
    ) -> None:
        self.device_type = device_type
        self.central = central
        self.charge_point = charge_point
        self.connector_id = connector_id
        self.config = config
        self.context = context
        self.link = central.link(charge_point.id)
        self.topic_id = charge_point.topic_id(connector_id)
        self.name = f"{charge_point.display_name} connector {connector_id}"
        self.status_interval_s = config.status_interval_s
        self.capabilities = DeviceCapabilities(
            min_current_a=charge_point.min_current_a,
            max_current_a=charge_point.max_current_a,
            phases=charge_point.phases,
            control_strategy=CONTROL_STRATEGY,
            horizon_s=HORIZON_S,
            max_periods=MAX_PERIODS,
            extra={"charge_point_id": charge_point.id, "connector_id": connector_id, "protocol": "ocpp1.6"},
        )
        self._desired: Schedule | None = None
        """What the charger should hold; None until the agent knows (then only the base profile is written)."""
        self._written: tuple[Schedule, ChargePointSession] | None = None
        """The plan the charger accepted, and on which connection."""
        self._synced: ChargePointSession | None = None
        """The connection on which the base profile was written."""
        self.placement: Placement | None = None
        """Where the charger took the last plan."""
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"OcppConnector({self.charge_point.id}/{self.connector_id} as {self.topic_id!r})"

    @property
    def _where(self) -> str:
        return f"{self.charge_point.id} connector {self.connector_id}"

    async def start(self) -> None:
        """Listen for the charger (the first connector starts the central system)."""
        self.link.listeners[self.connector_id] = self
        await self.central.acquire()

    async def close(self) -> None:
        """Stop listening (the last connector stops the central system); the charger keeps its profiles."""
        self.link.listeners.pop(self.connector_id, None)
        await self.central.release()

    # -- writes ------------------------------------------------------------------------------------
    async def apply_schedule(self, schedule: Schedule) -> None:
        """Have the charger hold `schedule`; returns once it answered Accepted, raises DeviceError otherwise."""
        await self._put(schedule)

    async def clear_schedule(self) -> None:
        """Have the charger hold 0 A, without end."""
        await self._put(CLEAR)

    async def restore_schedule(self, schedule: Schedule) -> None:
        """After an agent restart: the plan in force, written when the charger is (or gets) connected."""
        async with self._lock:
            self._desired = schedule
            if self.link.online:
                await self._bring_up_to_date(await self._session())

    async def charger_ready(self) -> None:
        """The charger (re)connected: write the base profile and the plan in force."""
        async with self._lock:
            await self._bring_up_to_date(await self._session())

    async def transaction_started(self, transaction_id: int) -> None:
        """A plan held as a TxProfile ended with the last transaction: give the new one the plan in force."""
        async with self._lock:
            session = await self._session()
            if self._desired is None:
                return
            if self.placement is Placement.TRANSACTION or not self._holds(self._desired, session):
                log.info("%s: transaction %d started; writing the plan in force", self._where, transaction_id)
                await self._write(session, self._desired)

    async def _session(self) -> ChargePointSession:
        return await self.link.wait_ready(self.config.response_timeout_s)

    def _holds(self, desired: Schedule, session: ChargePointSession) -> bool:
        """The charger accepted this plan on this connection."""
        return self._written is not None and self._written[1] is session and desired.same_plan(self._written[0])

    async def _put(self, desired: Schedule) -> None:
        async with self._lock:
            session = await self._session()
            await self._bring_up_to_date(session, write_desired=False)
            if not self._holds(desired, session):
                await self._write(session, desired)
            else:
                log.info("%s: the charger already holds this plan; nothing sent", self._where)
            self._desired = desired

    async def _bring_up_to_date(self, session: ChargePointSession, *, write_desired: bool = True) -> None:
        """Once per connection: the base profile; then the plan in force unless this connection has it."""
        if self._synced is not session:
            self._written = None
            await self._write_base(session)
            self._synced = session
        if write_desired and self._desired is not None and not self._holds(self._desired, session):
            await self._write(session, self._desired)

    async def _offer(
        self,
        session: ChargePointSession,
        limits: LimitSchedule,
        *,
        role: Role,
        stack_level: int,
        transaction_id: int | None = None,
    ) -> tuple[Placement | None, list[str]]:
        """Offer the profile at each placement the charger may take, most specific first, until one is accepted.

        Returns the placement taken (None when every one was refused) and the refusals on the way.
        """
        refusals: list[str] = []
        only_connector = len(self.charge_point.connectors) == 1
        for placement in fallback_chain(transaction_id=transaction_id, only_connector=only_connector):
            target, profile = charging_profile(
                limits,
                connector_id=self.connector_id,
                role=role,
                stack_level=stack_level,
                placement=placement,
                transaction_id=transaction_id,
            )
            answer = await session.request(call.SetChargingProfile(connector_id=target, cs_charging_profiles=profile))
            if answer.status == enums.ChargingProfileStatus.accepted:
                return placement, refusals
            refusals.append(f"{placement}: {answer.status}")
            log.info("%s: %s answered %s", self._where, placement, answer.status)
        return None, refusals

    async def _write_base(self, session: ChargePointSession) -> None:
        limit_a = self.config.limit_after_expiry_a
        if limit_a is None:
            return
        limits = hold(limit_a, now=self.context.clock.now())
        placement, refusals = await self._offer(session, limits, role=Role.BASE, stack_level=BASE_STACK_LEVEL)
        if placement is not None:
            log.info("%s: base profile %g A after expiry held (%s)", self._where, limit_a, placement)
            return
        log.warning(
            "%s: the charger refused the base profile (%s); after a plan's expires_at it uses its own default",
            self._where,
            "; ".join(refusals),
        )

    async def _write(self, session: ChargePointSession, desired: Schedule) -> None:
        now = self.context.clock.now()
        limits = limit_schedule(desired, now=now, default_limit_a=self.charge_point.max_current_a)
        periods_sent = len(desired.without_ended(now).periods)
        stack_level = plan_stack_level(self.config.limit_after_expiry_a is not None)
        try:
            check_fits(limits, session.limits, stack_level=stack_level, periods_sent=periods_sent)
        except ProfileDoesNotFit as exc:
            raise DeviceRejectedError(f"{self._where} cannot hold this schedule: {exc}") from None
        transaction_id = self.link.readings[self.connector_id].transaction_id
        self._written = None
        placement, refusals = await self._offer(
            session, limits, role=Role.PLAN, stack_level=stack_level, transaction_id=transaction_id
        )
        if placement is None:
            raise DeviceRejectedError(f"{self._where} refused the charging profile ({'; '.join(refusals)})")
        self._written = (desired, session)
        self.placement = placement
        log.info("%s: the charger holds %s as %s: %s", self._where, _what(desired), placement, describe(limits))

    # -- reads -------------------------------------------------------------------------------------
    async def read_status(self) -> DeviceStatus:
        """What the charger last reported; offline while it is not connected."""
        readings = self.link.readings[self.connector_id]
        if not self.link.online:
            return DeviceStatus(
                state=ChargerState.ERROR,
                online=False,
                current_power_kw=0.0,
                session_energy_kwh=readings.session_energy_kwh,
                total_energy_kwh=readings.energy_register_kwh,
                error=f"charge point {self.charge_point.id} is not connected to the agent",
            )
        overall = self.link.charge_point_status
        status = overall if overall in ("Faulted", "Unavailable") else readings.status
        state = ChargerState.of_ocpp_status(status) or ChargerState.IDLE
        error = None
        if state is ChargerState.ERROR:
            error = f"{'charge point' if status == overall else 'connector'} {status}"
            if readings.error_code and readings.error_code != "NoError":
                error += f" ({readings.error_code}{': ' + readings.info if readings.info else ''})"
        return DeviceStatus(
            state=state,
            online=True,
            current_power_kw=readings.power_kw,
            session_energy_kwh=readings.session_energy_kwh,
            total_energy_kwh=readings.energy_register_kwh,
            error=error,
        )

    async def read_schedule(self) -> HeldSchedule:
        """What the charger will do, read back with GetCompositeSchedule (until the plan's expiry, or a day)."""
        session = await self._session()
        now = self.context.clock.now()
        desired = self._desired
        expires = desired.expires_at if desired is not None else None
        duration_s = READ_BACK_S if expires is None else int((expires - now).total_seconds())
        duration_s = max(1, min(duration_s, HORIZON_S))
        answer = await session.request(
            call.GetCompositeSchedule(
                connector_id=self.connector_id, duration=duration_s, charging_rate_unit=enums.ChargingRateUnitType.amps
            )
        )
        if answer.status != enums.GetCompositeScheduleStatus.accepted or not answer.charging_schedule:
            raise DeviceRejectedError(f"{self._where} gave no composite schedule ({answer.status})")
        schedule = dict(answer.charging_schedule)
        schedule.setdefault("start_schedule", answer.schedule_start)
        try:
            return held_from_composite(schedule, read_at=now, valid_until=expires)
        except (ValueError, KeyError, TypeError) as exc:
            raise DeviceRejectedError(f"{self._where} gave a composite schedule that cannot be read: {exc}") from None


def _what(desired: Schedule) -> str:
    if desired is CLEAR:
        return "a clear (0 A)"
    return f"the {desired.source} plan ({len(desired.periods)} period(s))"
