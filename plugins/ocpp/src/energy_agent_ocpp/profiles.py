"""Schedules as OCPP 1.6 charging profiles: pure functions, no I/O.

A schedule becomes one Absolute profile in ampere that starts now and holds the connector at the schedule's
current inside each period and at 0 A between and after them, until `expires_at` (the profile's `validTo`).
Below it, at stack level 0 and without end, a base profile holds `limit_after_expiry_a`, so that a charger
left alone after `validTo` does not fall back to full power. A clear is a profile that holds 0 A, without end.

Profile ids are fixed per connector and role, so a new write replaces the previous one on the charger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from ocpp.v16 import datatypes, enums

from energy_agent.api import HeldSchedule, Period, Schedule

BASE_STACK_LEVEL = 0
"""Stack level of the base profile (the limit after expiry)."""
CLOCK_MARGIN_S = 60
"""Profiles start this long before the agent's "now": a charger whose clock runs behind the agent's by up to this
much is never left without a limit (a charger without a profile charges at full power)."""


class Role(StrEnum):
    """What a profile is for; part of its id."""

    BASE = "base"
    PLAN = "plan"


class Placement(StrEnum):
    """Where a profile is put on the charger; tried in the order of `fallback_chain`."""

    CONNECTOR_DEFAULT = "TxDefaultProfile on the connector"
    TRANSACTION = "TxProfile on the running transaction"
    CHARGE_POINT_DEFAULT = "TxDefaultProfile on connector 0"


class ProfileDoesNotFit(ValueError):
    """The charger cannot hold this profile (too many periods, stack level, unit); the message says why."""


@dataclass(frozen=True)
class ChargerLimits:
    """Smart-charging limits a charger reports through GetConfiguration; None where it did not say."""

    max_stack_level: int | None = None
    """ChargeProfileMaxStackLevel."""
    max_periods: int | None = None
    """ChargingScheduleMaxPeriods."""
    rate_units: frozenset[str] | None = None
    """ChargingScheduleAllowedChargingRateUnit, e.g. {"Current", "Power"}."""
    feature_profiles: frozenset[str] | None = None
    """SupportedFeatureProfiles, e.g. {"Core", "SmartCharging"}."""


@dataclass(frozen=True)
class LimitSchedule:
    """A current limit over time: `periods` are (seconds from `start`, limit A), the last one lasting to the end."""

    start: datetime
    periods: tuple[tuple[int, float], ...]
    duration_s: int | None = None
    """Length from `start`; None: the last period lasts for ever."""
    valid_to: datetime | None = None

    def limit_at(self, when: datetime) -> float | None:
        """The limit at `when`; None before `start` or after the end."""
        offset = (when - self.start).total_seconds()
        if offset < 0 or (self.duration_s is not None and offset >= self.duration_s):
            return None
        if self.valid_to is not None and when >= self.valid_to:
            return None
        return [limit for begin, limit in self.periods if begin <= offset][-1]


def profile_id(connector_id: int, role: Role) -> int:
    """The fixed chargingProfileId of a connector's profile: 1001 base and 1002 plan for connector 1, and so on."""
    return 1000 * connector_id + (1 if role is Role.BASE else 2)


def plan_stack_level(with_base: bool) -> int:
    """The plan sits one level above the base profile, or at 0 when there is none."""
    return BASE_STACK_LEVEL + 1 if with_base else BASE_STACK_LEVEL


def whole_second(when: datetime) -> datetime:
    """`when` in UTC without its fraction of a second."""
    return when.astimezone(UTC).replace(microsecond=0)


def ocpp_time(when: datetime) -> str:
    """An OCPP dateTime: UTC, whole seconds, `Z`."""
    return whole_second(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def limit_schedule(schedule: Schedule, *, now: datetime, default_limit_a: float) -> LimitSchedule:
    """The limits that carry out `schedule` from `now`: its current in each period, 0 A everywhere else.

    It starts CLOCK_MARGIN_S before `now`; periods that ended before that are left out. Edges fall on whole
    seconds, never widening a period: a start is rounded up, an end down. With `expires_at` the schedule ends
    there (duration and validTo); without, the last 0 A lasts for ever.
    """
    start = whole_second(now) - timedelta(seconds=CLOCK_MARGIN_S)
    expires = schedule.expires_at
    horizon = None if expires is None else whole_second(expires)
    horizon_s = None if horizon is None else int((horizon - start).total_seconds())
    limits: list[tuple[int, float]] = []
    cursor = 0
    for period in schedule.periods:
        begin = max(0, math.ceil((period.start - start).total_seconds()))
        end = math.floor((period.end - start).total_seconds())
        if horizon_s is not None:
            end = min(end, horizon_s)
        if end <= begin:
            continue
        if begin > cursor or not limits:
            limits.append((cursor, 0.0))
        limits.append((begin, round(schedule.current_for(period) or default_limit_a, 1)))
        cursor = end
    if horizon_s is None or cursor < horizon_s or not limits:
        limits.append((cursor, 0.0))
    return LimitSchedule(
        start=start,
        periods=_merged(limits),
        duration_s=None if horizon_s is None else max(1, horizon_s),
        valid_to=horizon,
    )


def hold(limit_a: float, *, now: datetime) -> LimitSchedule:
    """One limit from `now` (less CLOCK_MARGIN_S) on, for ever (a clear holds 0 A; the base the limit after expiry)."""
    start = whole_second(now) - timedelta(seconds=CLOCK_MARGIN_S)
    return LimitSchedule(start=start, periods=((0, round(limit_a, 1)),))


def _merged(limits: list[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    """Later entries at the same offset win; neighbours with the same limit become one."""
    by_offset: dict[int, float] = {}
    for offset, limit in limits:
        by_offset[offset] = limit
    merged: list[tuple[int, float]] = []
    for offset, limit in sorted(by_offset.items()):
        if not merged or merged[-1][1] != limit:
            merged.append((offset, limit))
    return tuple(merged)


def check_fits(limits: LimitSchedule, charger: ChargerLimits, *, stack_level: int, periods_sent: int) -> None:
    """Raise ProfileDoesNotFit, saying why, when the charger cannot hold the profile."""
    if charger.feature_profiles is not None and "SmartCharging" not in charger.feature_profiles:
        raise ProfileDoesNotFit(
            "the charger does not support Smart Charging (SupportedFeatureProfiles: "
            f"{', '.join(sorted(charger.feature_profiles)) or 'none'})"
        )
    if charger.rate_units is not None and "Current" not in charger.rate_units:
        raise ProfileDoesNotFit(
            "the charger takes charging limits in watts only (ChargingScheduleAllowedChargingRateUnit: "
            f"{', '.join(sorted(charger.rate_units))}); this agent sets amperes"
        )
    if charger.max_periods is not None and len(limits.periods) > charger.max_periods:
        raise ProfileDoesNotFit(
            f"the schedule needs {len(limits.periods)} charging schedule periods ({periods_sent} period(s) "
            f"and the 0 A around them); the charger holds at most {charger.max_periods} "
            "(ChargingScheduleMaxPeriods): send fewer periods, or merge them"
        )
    if charger.max_stack_level is not None and stack_level > charger.max_stack_level:
        raise ProfileDoesNotFit(
            f"the plan needs stack level {stack_level} (above the base profile at {BASE_STACK_LEVEL}); the charger "
            f"allows at most {charger.max_stack_level} (ChargeProfileMaxStackLevel): set "
            "ocpp.limit_after_expiry_a: null to use one level"
        )


def fallback_chain(*, transaction_id: int | None, only_connector: bool) -> list[Placement]:
    """Where to try a profile, in order.

    First a TxDefaultProfile on the connector. Firmware that refuses it may take a TxProfile on the running
    transaction (only while one runs), or a TxDefaultProfile on connector 0, which covers every connector of
    the charge point and is therefore tried only when the agent controls its only connector.
    """
    chain = [Placement.CONNECTOR_DEFAULT]
    if transaction_id is not None:
        chain.append(Placement.TRANSACTION)
    if only_connector:
        chain.append(Placement.CHARGE_POINT_DEFAULT)
    return chain


def charging_profile(
    limits: LimitSchedule,
    *,
    connector_id: int,
    role: Role,
    stack_level: int,
    placement: Placement,
    transaction_id: int | None = None,
) -> tuple[int, datatypes.ChargingProfile]:
    """The SetChargingProfile arguments, (connectorId, csChargingProfiles), for `limits` at `placement`."""
    on_transaction = placement is Placement.TRANSACTION
    if on_transaction and transaction_id is None:
        raise ValueError("a TxProfile needs the running transaction's id")
    profile = datatypes.ChargingProfile(
        charging_profile_id=profile_id(connector_id, role),
        stack_level=stack_level,
        charging_profile_purpose=(
            enums.ChargingProfilePurposeType.tx_profile
            if on_transaction
            else enums.ChargingProfilePurposeType.tx_default_profile
        ),
        charging_profile_kind=enums.ChargingProfileKindType.absolute,
        charging_schedule=datatypes.ChargingSchedule(
            charging_rate_unit=enums.ChargingRateUnitType.amps,
            charging_schedule_period=[
                datatypes.ChargingSchedulePeriod(start_period=offset, limit=limit) for offset, limit in limits.periods
            ],
            duration=limits.duration_s,
            start_schedule=ocpp_time(limits.start),
        ),
        transaction_id=transaction_id if on_transaction else None,
        valid_to=None if limits.valid_to is None else ocpp_time(limits.valid_to),
    )
    target = 0 if placement is Placement.CHARGE_POINT_DEFAULT else connector_id
    return target, profile


def wire_form(profile: datatypes.ChargingProfile) -> dict[str, Any]:
    """The profile as it travels in JSON (camelCase keys, no empty fields), for logs, docs and tests."""
    schedule = profile.charging_schedule
    body: dict[str, Any] = {
        "chargingProfileId": profile.charging_profile_id,
        "stackLevel": profile.stack_level,
        "chargingProfilePurpose": str(profile.charging_profile_purpose),
        "chargingProfileKind": str(profile.charging_profile_kind),
        "chargingSchedule": {
            "chargingRateUnit": str(schedule.charging_rate_unit),
            "chargingSchedulePeriod": [
                {"startPeriod": p.start_period, "limit": p.limit} for p in schedule.charging_schedule_period
            ],
        },
    }
    if schedule.duration is not None:
        body["chargingSchedule"]["duration"] = schedule.duration
    if schedule.start_schedule is not None:
        body["chargingSchedule"]["startSchedule"] = schedule.start_schedule
    if profile.transaction_id is not None:
        body["transactionId"] = profile.transaction_id
    if profile.valid_to is not None:
        body["validTo"] = profile.valid_to
    return body


def held_from_composite(schedule: dict[str, Any], *, read_at: datetime, valid_until: datetime | None) -> HeldSchedule:
    """What a GetCompositeSchedule answer (its chargingSchedule, snake_case keys) says the charger will do.

    Periods with a limit above 0 A become periods of the held schedule; 0 A is "will not charge".
    Raises ValueError when the answer is malformed or not in ampere.
    """
    unit = schedule.get("charging_rate_unit")
    if unit != "A":
        raise ValueError(f"composite schedule in {str(unit)[:8]!r}, not A")
    raw_start = schedule.get("start_schedule")
    start = whole_second(datetime.fromisoformat(raw_start)) if isinstance(raw_start, str) else whole_second(read_at)
    entries = sorted(
        (int(p["start_period"]), float(p["limit"])) for p in schedule.get("charging_schedule_period") or []
    )
    duration = schedule.get("duration")
    end = None if duration is None else start + timedelta(seconds=int(duration))
    periods: list[Period] = []
    parts: list[str] = []
    for index, (offset, limit_a) in enumerate(entries):
        begin = start + timedelta(seconds=offset)
        until = start + timedelta(seconds=entries[index + 1][0]) if index + 1 < len(entries) else end
        parts.append(f"{limit_a:g} A from {ocpp_time(begin)}")
        if limit_a > 0 and until is not None and until > begin:
            periods.append(Period(begin, until, limit_a))
    detail = "composite schedule: " + ("; ".join(parts) or "no limit")
    return HeldSchedule(periods=tuple(periods), read_at=read_at, valid_until=valid_until, detail=detail)
