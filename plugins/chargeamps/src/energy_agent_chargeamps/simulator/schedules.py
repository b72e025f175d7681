"""User-app smart-charging schedules: parsing and validating a PUT body, weekly lookup of the period in force."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeGuard

from energy_agent_chargeamps.simulator.wire import iso_z

WEEK_S = 604800
"""Length of the repeating schedule week in seconds; period offsets lie in [0, WEEK_S]."""

INVALID_DATA = "SCHEDULE_INVALID_DATA"
"""The vendor's message code for a schedule it refuses."""

_MICROSECOND = timedelta(microseconds=1)
_WEEK_US = WEEK_S * 1_000_000


class ScheduleInvalidError(ValueError):
    """The cloud refuses this schedule; the message is the vendor's wording."""


@dataclass(frozen=True, slots=True)
class SchedulePeriod:
    """One weekly period: seconds from the start of the schedule week, and the current allowed in it."""

    from_s: int
    to_s: int
    max_current_a: float

    def to_json(self) -> dict[str, Any]:
        """The vendor's JSON form."""
        return {"from": self.from_s, "to": self.to_s, "maxCurrent": self.max_current_a}


@dataclass(frozen=True, slots=True)
class StoredSchedule:
    """A schedule as the cloud stores it after a PUT (`schedule["schedulePeriods"]` reads the vendor JSON)."""

    schedule_id: int
    charge_point_id: str
    connector_id: int
    start_of_schedule: datetime
    periods: tuple[SchedulePeriod, ...]
    is_active: bool = True
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    default_current_a: float = 0.0
    time_zone: str | None = None

    def period_at(self, when: datetime) -> SchedulePeriod | None:
        """The period in force at `when`, counting the week from `start_of_schedule` and repeating it."""
        if not self.in_force(when):
            return None
        offset_s = self._offset_us(when) / 1_000_000
        return next((p for p in self.periods if p.from_s <= offset_s < p.to_s), None)

    def current_at(self, when: datetime) -> float:
        """The current the schedule allows at `when`: its period's, `defaultCurrent` between periods, 0 when
        the schedule is not in force (inactive, before validFrom, from validTo on)."""
        if not self.in_force(when):
            return 0.0
        period = self.period_at(when)
        return self.default_current_a if period is None else period.max_current_a

    def in_force(self, when: datetime) -> bool:
        """True when the schedule is active and `when` lies within validFrom/validTo."""
        if not self.is_active:
            return False
        if self.valid_from is not None and when < self.valid_from:
            return False
        return not (self.valid_to is not None and when >= self.valid_to)

    def next_change_after(self, when: datetime) -> datetime | None:
        """The first moment after `when` at which the period in force may change."""
        candidates = [t for t in (self.valid_from, self.valid_to) if t is not None and t > when]
        offset_us = self._offset_us(when)
        for period in self.periods:
            for boundary_s in (period.from_s, period.to_s):
                wait_us = (boundary_s * 1_000_000 - offset_us) % _WEEK_US or _WEEK_US
                candidates.append(when + wait_us * _MICROSECOND)
        return min(candidates, default=None)

    def to_json(self) -> dict[str, Any]:
        """The vendor's JSON form, as a GET or the PUT answer returns it."""
        return {
            "scheduleId": self.schedule_id,
            "chargePointId": self.charge_point_id,
            "connectorId": self.connector_id,
            "validFrom": iso_z(self.valid_from),
            "validTo": iso_z(self.valid_to),
            "defaultCurrent": self.default_current_a,
            "isActive": self.is_active,
            "isSynced": True,
            "timeZone": self.time_zone,
            "startOfSchedule": iso_z(self.start_of_schedule),
            "schedulePeriods": [p.to_json() for p in self.periods],
        }

    def __getitem__(self, key: str) -> Any:
        """Vendor-field access, e.g. `schedule["scheduleId"]`."""
        return self.to_json()[key]

    def _offset_us(self, when: datetime) -> int:
        return ((when - self.start_of_schedule) // _MICROSECOND) % _WEEK_US


def parse_optional_time(value: Any, field_name: str) -> datetime | None:
    """An ISO 8601 time with an offset from the body, or None when it is null or absent."""
    return None if value is None else parse_time(value, field_name)


def parse_time(value: Any, field_name: str) -> datetime:
    """An ISO 8601 time with an offset from the body."""
    if not isinstance(value, str):
        raise ScheduleInvalidError(f"{field_name} must be an ISO 8601 date-time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ScheduleInvalidError(f"{field_name} is not a valid date-time") from exc
    if parsed.tzinfo is None:
        raise ScheduleInvalidError(f"{field_name} must carry a UTC offset")
    return parsed


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_period(data: Any) -> SchedulePeriod:
    """One period of a PUT body, checked the way the cloud checks it."""
    if not isinstance(data, dict):
        raise ScheduleInvalidError("Schedule period must be an object")
    start, end, current = data.get("from"), data.get("to"), data.get("maxCurrent")
    if not _is_int(start) or not _is_int(end):
        raise ScheduleInvalidError("Periods From and To values must be whole seconds")
    if start < 0 or end < 0:
        raise ScheduleInvalidError("Periods From and To values can not be negative")
    if start > WEEK_S:
        raise ScheduleInvalidError(f"Periods From value can not exceed {WEEK_S}")
    if end > WEEK_S:
        raise ScheduleInvalidError(f"Periods To value can not exceed {WEEK_S}")
    if start >= end:
        raise ScheduleInvalidError("Periods From value must be less than To value")
    if not _is_number(current) or not (current == 0 or 6 <= current <= 32):
        raise ScheduleInvalidError("Periods MaxCurrent value must be 0 or between 6 and 32")
    return SchedulePeriod(start, end, float(current))


def parse_schedule(body: Any, *, schedule_id: int) -> StoredSchedule:
    """The schedule a PUT body describes, stored under a fresh `schedule_id`; raises ScheduleInvalidError."""
    if not isinstance(body, dict):
        raise ScheduleInvalidError("Schedule must be an object")
    charge_point_id, connector_id = body.get("chargePointId"), body.get("connectorId")
    if not isinstance(charge_point_id, str) or not _is_int(connector_id):
        raise ScheduleInvalidError("ChargePointId and ConnectorId are required")
    raw_periods = body.get("schedulePeriods")
    if not isinstance(raw_periods, list):
        raise ScheduleInvalidError("SchedulePeriods must be a list")
    periods = tuple(sorted((parse_period(p) for p in raw_periods), key=lambda p: p.from_s))
    for earlier, later in itertools.pairwise(periods):
        if later.from_s < earlier.to_s:
            raise ScheduleInvalidError("Periods can not overlap")
    start = parse_time(body.get("startOfSchedule"), "StartOfSchedule")
    default_current = body.get("defaultCurrent", 0)
    is_active = body.get("isActive", True)
    time_zone = body.get("timeZone")
    if not _is_number(default_current) or not isinstance(is_active, bool):
        raise ScheduleInvalidError("DefaultCurrent must be a number and IsActive a boolean")
    return StoredSchedule(
        schedule_id=schedule_id,
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        start_of_schedule=start,
        periods=periods,
        is_active=is_active,
        valid_from=parse_optional_time(body.get("validFrom"), "ValidFrom"),
        valid_to=parse_optional_time(body.get("validTo"), "ValidTo"),
        default_current_a=float(default_current),
        time_zone=time_zone if isinstance(time_zone, str) else None,
    )
