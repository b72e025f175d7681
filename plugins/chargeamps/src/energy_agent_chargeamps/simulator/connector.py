"""A simulated charger connector: its settings, its schedule, the car on it, and a meter that follows the clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from energy_agent.api import Clock
from energy_agent_chargeamps.simulator.car import LINE_VOLTAGE_V, Car
from energy_agent_chargeamps.simulator.schedules import StoredSchedule
from energy_agent_chargeamps.simulator.wire import iso_z

MODES = ("Off", "On", "Schedule")
"""Connector modes, as both APIs name them."""


@dataclass(slots=True)
class ChargingSession:
    """One plug-in-to-unplug session; its energy grows while the car charges."""

    session_id: int
    charge_point_id: str
    connector_id: int
    user_id: str
    session_type: str
    start_time: datetime
    end_time: datetime | None = None
    energy_kwh: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The official API's ChargingSession object."""
        return {
            "id": self.session_id,
            "chargePointId": self.charge_point_id,
            "connectorId": self.connector_id,
            "userId": self.user_id,
            "rfid": None,
            "rfidDec": None,
            "rfidDecReverse": None,
            "organisationId": None,
            "sessionType": self.session_type,
            "startTime": iso_z(self.start_time),
            "endTime": iso_z(self.end_time),
            "externalTransactionId": None,
            "totalConsumptionKwh": round(self.energy_kwh, 6),
            "externalId": None,
        }


class Connector:
    """A connector whose energy is integrated lazily, piece by piece, every time it is read or changed."""

    def __init__(
        self,
        *,
        clock: Clock,
        charge_point_id: str,
        connector_id: int,
        function: str,
        installation_current_a: float,
        owner_user_id: str,
        session_ids: Iterator[int],
    ) -> None:
        self.charge_point_id = charge_point_id
        self.connector_id = connector_id
        self.function = function  # "Charger" for a car connector, "Schuko" for a household socket
        self.installation_current_a = installation_current_a
        self._mode = "On"
        self._max_current_a: float | None = installation_current_a
        self.rfid_lock = False
        self.cable_lock = False
        self.enabled = True
        self.remotely_stopped = False
        self.car: Car | None = None
        self.schedule: StoredSchedule | None = None
        self.session: ChargingSession | None = None
        self.sessions: list[ChargingSession] = []
        self._clock = clock
        self._owner_user_id = owner_user_id
        self._session_ids = session_ids
        self._total_kwh = 0.0
        self._settled_at = clock.now()

    # Settings; assigning one settles the meter first, like every other change.

    @property
    def mode(self) -> str:
        """ "Off", "On" or "Schedule"."""
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        self.apply_settings(mode=value)

    @property
    def max_current_a(self) -> float | None:
        """The connector's own current limit per phase (capped by the installation)."""
        return self._max_current_a

    @max_current_a.setter
    def max_current_a(self, value: float | None) -> None:
        self.settle()
        self._max_current_a = value

    # Readings: each one brings the meter up to the clock first.

    @property
    def total_consumption_kwh(self) -> float:
        """The connector's lifetime meter."""
        self.settle()
        return self._total_kwh

    @property
    def session_energy_kwh(self) -> float:
        """Energy of the open session (0 when no car is plugged in)."""
        self.settle()
        return self.session.energy_kwh if self.session is not None else 0.0

    @property
    def current_a(self) -> float:
        """Current per phase flowing now."""
        self.settle()
        return self._current_at(self._clock.now())

    @property
    def power_kw(self) -> float:
        """Power flowing now."""
        current_a = self.current_a
        return 0.0 if self.car is None else self.car.power_kw(current_a)

    @property
    def is_charging(self) -> bool:
        """True while current flows into the car."""
        return self.current_a > 0

    @property
    def phase_currents_a(self) -> tuple[float, float, float]:
        """Current on L1, L2, L3 now."""
        current_a = self.current_a
        phases = 0 if self.car is None else self.car.phases
        return (
            current_a if phases >= 1 else 0.0,
            current_a if phases >= 2 else 0.0,
            current_a if phases >= 3 else 0.0,
        )

    @property
    def ocpp_status(self) -> str:
        """The OCPP 1.6 connector status name."""
        if not self.enabled:
            return "Unavailable"
        if self.car is None:
            return "Available"
        if self.is_charging:
            return "Charging"
        return "SuspendedEV" if self.car.is_full else "SuspendedEVSE"

    @property
    def capi_status(self) -> str:
        """The CAPI connector status name."""
        if self.car is None:
            return "Available"
        return "Charging" if self.is_charging else "Connected"

    @property
    def voltage_v(self) -> float:
        """Line voltage reported on each phase."""
        return LINE_VOLTAGE_V

    # Changes: each one settles the meter under the old state before switching.

    def apply_settings(
        self,
        *,
        mode: str | None = None,
        max_current_a: float | None = None,
        rfid_lock: bool | None = None,
        cable_lock: bool | None = None,
    ) -> None:
        """Change the connector settings that are given."""
        self.settle()
        if mode is not None:
            if mode not in MODES:
                raise ValueError(f"unknown connector mode {mode!r}")
            self._mode = mode
        if max_current_a is not None:
            self._max_current_a = max_current_a
        if rfid_lock is not None:
            self.rfid_lock = rfid_lock
        if cable_lock is not None:
            self.cable_lock = cable_lock

    def store_schedule(self, schedule: StoredSchedule) -> None:
        """Replace the schedule and switch to Schedule mode, as a user-app PUT does."""
        self.settle()
        self.schedule = schedule
        self._mode = "Schedule"

    def delete_schedule(self) -> None:
        """Drop the schedule; the mode stays as it is, so a Schedule connector stops charging."""
        self.settle()
        self.schedule = None

    def plug_in(self, car: Car) -> None:
        """Connect `car` and open a session."""
        self.settle()
        if self.car is not None:
            raise ValueError(f"connector {self.connector_id} of {self.charge_point_id} already has a car")
        self.car = car
        self.remotely_stopped = False
        session_type = "Schuko" if self.function == "Schuko" else ("OnePhase" if car.phases == 1 else "ThreePhase")
        self.session = ChargingSession(
            session_id=next(self._session_ids),
            charge_point_id=self.charge_point_id,
            connector_id=self.connector_id,
            user_id=self._owner_user_id,
            session_type=session_type,
            start_time=self._clock.now(),
        )
        self.sessions.append(self.session)

    def unplug(self) -> None:
        """Disconnect the car and close its session."""
        self.settle()
        if self.session is not None:
            self.session.end_time = self._clock.now()
        self.car = None
        self.session = None
        self.remotely_stopped = False

    def remote_stop(self) -> None:
        """Stop charging until a remote start or a new plug-in."""
        self.settle()
        self.remotely_stopped = True

    def remote_start(self) -> None:
        """Lift a remote stop."""
        self.settle()
        self.remotely_stopped = False

    def settle(self) -> None:
        """Integrate energy up to the clock, splitting at every moment the offered current may change."""
        now = self._clock.now()
        moment = self._settled_at
        while self.car is not None and moment < now:
            change = self._next_change_after(moment)
            end = now if change is None else min(now, change)
            power_kw = self.car.power_kw(self._current_at(moment))
            energy_kwh = self.car.take(power_kw * (end - moment).total_seconds() / 3600.0)
            self._total_kwh += energy_kwh
            if self.session is not None:
                self.session.energy_kwh += energy_kwh
            moment = end
        self._settled_at = now

    def offered_current_a(self, when: datetime) -> float:
        """The current per phase the charger offers at `when` (the car may take less)."""
        if not self.enabled or self.remotely_stopped or self._mode == "Off":
            return 0.0
        setting_a = self.installation_current_a if self._max_current_a is None else self._max_current_a
        limit_a = min(setting_a, self.installation_current_a)
        if self._mode == "On":
            return limit_a
        return 0.0 if self.schedule is None else min(self.schedule.current_at(when), limit_a)

    def _current_at(self, when: datetime) -> float:
        return 0.0 if self.car is None else self.car.current_a(self.offered_current_a(when))

    def _next_change_after(self, when: datetime) -> datetime | None:
        if self._mode != "Schedule" or self.schedule is None:
            return None
        return self.schedule.next_change_after(when)
