"""Exact conversion between a `Schedule` and the Charge Amps user-app weekly schedule.

The user-app API stores a schedule that repeats every week: `startOfSchedule` (Monday 00:00 in the charger's
zone, written in UTC) and periods of whole seconds `[from, to)` after it, `0 <= from < to <= 604800`.
Pure functions, no I/O; `docs/chargeamps-schedules.md` explains the choices made here.

Model of the charger (the one `following` implements and the simulator uses): at instant `t` before
`valid_to` the charger charges at `maxCurrent` of the period whose `[from, to)` holds `(t - startOfSchedule)`
modulo 604800 *elapsed* seconds. The cloud's reading of offsets in a week with a daylight-saving change is not
documented; elapsed seconds is exact if the cloud adds the offset to the UTC instant.

Why the conversion is exact. Let φ(t) = (t - startOfSchedule) mod 604800. Every asked instant that survives
the cut lies in [now, now + 604800), a half-open window exactly one week long, and φ is injective on any such
window: two instants in it differ by less than 604800 s, so they cannot share a residue. Hence

* the images of the asked intervals never overlap, even when some of them lie in next week's calendar week and
  wrap to small offsets (those offsets stand for this week's *past* instants, which repeat a week later at the
  asked time, while this week's future instants keep their own offsets);
* for `t` in the window, the charger charges at `t` iff some asked `t'` has φ(t') = φ(t) with `t'` in the
  window, i.e. iff `t' = t` was asked.

A horizon longer than a week would break injectivity: `now + 1 h` and `now + 1 week + 1 h` share an offset,
so asking for one but not the other could not be expressed. That is why the horizon is capped at one week.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from energy_agent.api import Period, Schedule, require_aware

WEEK_S = 604_800
"""Seconds in a week: the period of the Charge Amps schedule and the largest allowed offset."""

_SECOND = timedelta(seconds=1)
_WEEK = timedelta(seconds=WEEK_S)
_WIRE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True, slots=True)
class WeeklyPeriod:
    """One weekly period: charge at most `max_current_a` during `[from_s, to_s)` seconds after startOfSchedule."""

    from_s: int
    to_s: int
    max_current_a: float

    def __post_init__(self) -> None:
        if not (isinstance(self.from_s, int) and isinstance(self.to_s, int)):
            raise ValueError("weekly period offsets must be whole seconds")
        if not 0 <= self.from_s < self.to_s <= WEEK_S:
            raise ValueError(f"weekly period [{self.from_s}, {self.to_s}) is not within 0 <= from < to <= {WEEK_S}")
        if not math.isfinite(self.max_current_a) or self.max_current_a < 0:
            raise ValueError(f"weekly period current {self.max_current_a} A is not a non-negative number")


@dataclass(frozen=True, slots=True)
class WeeklySchedule:
    """A Charge Amps weekly schedule: UTC week start, sorted non-overlapping periods, optional end (validTo).

    `valid_from` and `default_current_a` (the current between periods) are what the agent never writes
    (null and 0) but the owner's app may; a read-back keeps them so `following` tells what the charger does.
    """

    start_of_schedule: datetime
    periods: tuple[WeeklyPeriod, ...]
    valid_to: datetime | None = None
    valid_from: datetime | None = None
    default_current_a: float = 0.0

    def __post_init__(self) -> None:
        require_aware(self.start_of_schedule, "start_of_schedule")
        if self.start_of_schedule.utcoffset() != timedelta(0):
            raise ValueError("start_of_schedule must be expressed in UTC")
        if self.valid_to is not None:
            require_aware(self.valid_to, "valid_to")
        if self.valid_from is not None:
            require_aware(self.valid_from, "valid_from")
        if not math.isfinite(self.default_current_a) or self.default_current_a < 0:
            raise ValueError(f"default current {self.default_current_a} A is not a non-negative number")
        for earlier, later in zip(self.periods, self.periods[1:], strict=False):
            if later.from_s < earlier.to_s:
                raise ValueError("weekly periods must be sorted by from_s and must not overlap")


def week_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Monday 00:00 in `tz` of the calendar week that contains `now`, as a UTC datetime.

    Where Monday midnight falls in a daylight-saving gap, this is Monday's first existing instant (PEP 495
    fold=0 reads a missing wall time with the offset in force before the gap); where it is ambiguous, the earlier.
    """
    require_aware(now, "now")
    local = now.astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time(0), tzinfo=tz).astimezone(UTC)


def to_weekly(schedule: Schedule, *, now: datetime, tz: ZoneInfo, default_current_a: float) -> WeeklySchedule:
    """Convert `schedule` into the weekly schedule that makes the charger charge exactly what is asked from `now`.

    Periods are cut to [now, min(now + 1 week, expires_at)); a start is rounded up and an end down to whole
    seconds, so the charger never charges outside what was asked (it may lose under a second at either edge).
    Offsets are elapsed seconds from `week_start(now, tz)`, taken modulo one week; a period that crosses the
    end of the week is split in two; periods of 0 A are left out, since the schedule's default current is 0.
    """
    # In UTC, because adding a week to a zoned datetime adds wall-clock time, not elapsed time, across DST.
    now = require_aware(now, "now").astimezone(UTC)
    start = week_start(now, tz)
    stop = now + _WEEK
    if schedule.expires_at is not None:
        stop = min(stop, schedule.expires_at)
    pieces: list[WeeklyPeriod] = []
    for period in schedule.periods:
        current_a = _current_a(schedule, period, default_current_a)
        if current_a == 0:
            continue
        first_s = _ceil_s(max(period.start, now) - start)
        last_s = _floor_s(min(period.end, stop) - start)
        if first_s < last_s:
            pieces.extend(_wrap(first_s, last_s, current_a))
    valid_to = None if schedule.expires_at is None else _floor_instant(schedule.expires_at)
    return WeeklySchedule(start_of_schedule=start, periods=_merge(pieces), valid_to=valid_to)


def following(
    weekly: WeeklySchedule, window_start: datetime, window_end: datetime
) -> list[tuple[datetime, datetime, float]]:
    """The intervals inside [window_start, window_end) during which a charger following `weekly` charges.

    The inverse of `to_weekly` under the elapsed-seconds model (see the module docstring): the schedule repeats
    every 604800 s in both directions, starts at `valid_from` and stops at `valid_to`; between periods the
    charger allows `default_current_a` (0 in what `to_weekly` writes). Touching intervals of equal current are
    merged; results are UTC, sorted by start. A period of 0 A is listed like any other (the caller decides
    whether a pause counts).
    """
    # In UTC, so that differences are elapsed time even when both ends share a zone with DST.
    window_start = require_aware(window_start, "window_start").astimezone(UTC)
    if weekly.valid_from is not None:
        window_start = max(window_start, weekly.valid_from.astimezone(UTC))
    window_end = require_aware(window_end, "window_end").astimezone(UTC)
    end = window_end if weekly.valid_to is None else min(window_end, weekly.valid_to.astimezone(UTC))
    if end <= window_start:
        return []
    if not weekly.periods:
        return [] if weekly.default_current_a == 0 else [(window_start, end, weekly.default_current_a)]
    anchor = weekly.start_of_schedule
    found: list[tuple[datetime, datetime, float]] = []
    for week in range((window_start - anchor) // _WEEK, (end - anchor) // _WEEK + 1):
        base = anchor + week * _WEEK
        for period in weekly.periods:
            lo = max(base + timedelta(seconds=period.from_s), window_start)
            hi = min(base + timedelta(seconds=period.to_s), end)
            if lo < hi:
                found.append((lo, hi, period.max_current_a))
    found.sort(key=lambda item: item[0])
    if weekly.default_current_a > 0:
        found = _fill_gaps(found, window_start, end, weekly.default_current_a)
    merged: list[tuple[datetime, datetime, float]] = []
    for lo, hi, current_a in found:
        if merged and merged[-1][1] == lo and merged[-1][2] == current_a:
            merged[-1] = (merged[-1][0], hi, current_a)
        else:
            merged.append((lo, hi, current_a))
    return merged


def _fill_gaps(
    found: list[tuple[datetime, datetime, float]], start: datetime, end: datetime, current_a: float
) -> list[tuple[datetime, datetime, float]]:
    """`found` (sorted, not overlapping, inside [start, end)) with every gap in [start, end) at `current_a`."""
    filled: list[tuple[datetime, datetime, float]] = []
    cursor = start
    for lo, hi, period_a in found:
        if cursor < lo:
            filled.append((cursor, lo, current_a))
        filled.append((lo, hi, period_a))
        cursor = hi
    if cursor < end:
        filled.append((cursor, end, current_a))
    return filled


def from_stored(
    *,
    start_of_schedule: datetime | None,
    periods: Iterable[tuple[int, int, float]],
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    default_current_a: float | None = None,
) -> WeeklySchedule:
    """The weekly schedule the cloud holds, from the fields of a read-back (`GET /api/smartChargingSchedules/…`).

    Periods may come in any order; they are sorted. Raises ValueError, naming what is wrong, when the stored
    schedule breaks the format's rules (offsets outside the week, overlapping periods, a negative current, no
    `startOfSchedule` while there are periods): the caller reports a malformed answer.
    """
    pieces = sorted(
        (WeeklyPeriod(from_s, to_s, float(current_a)) for from_s, to_s, current_a in periods),
        key=lambda p: (p.from_s, p.to_s),
    )
    for earlier, later in itertools.pairwise(pieces):
        if later.from_s < earlier.to_s:
            raise ValueError(f"weekly periods [{earlier.from_s}, {earlier.to_s}) and [{later.from_s}, ...) overlap")
    if start_of_schedule is None:
        if pieces:
            raise ValueError("periods without a startOfSchedule")
        start_of_schedule = datetime(1970, 1, 5, tzinfo=UTC)  # any Monday: no period refers to it
    return WeeklySchedule(
        start_of_schedule=require_aware(start_of_schedule, "startOfSchedule").astimezone(UTC),
        periods=tuple(pieces),
        valid_to=valid_to,
        valid_from=valid_from,
        default_current_a=float(default_current_a or 0.0),
    )


def to_wire_body(weekly: WeeklySchedule, *, charge_point_id: str, connector_id: int, tz_name: str) -> dict[str, Any]:
    """The exact JSON body of `PUT /api/smartChargingSchedules` for `weekly` on one connector."""
    return {
        "scheduleId": None,
        "chargePointId": charge_point_id,
        "connectorId": connector_id,
        "validFrom": None,
        "validTo": None if weekly.valid_to is None else _wire_instant(weekly.valid_to),
        "defaultCurrent": 0,
        "isActive": True,
        "isSynced": True,
        "timeZone": tz_name,
        "startOfSchedule": _wire_instant(weekly.start_of_schedule),
        "schedulePeriods": [
            {"from": period.from_s, "to": period.to_s, "maxCurrent": float(period.max_current_a)}
            for period in weekly.periods
        ],
    }


def _current_a(schedule: Schedule, period: Period, default_current_a: float) -> float:
    """The current that applies in `period`: its own, else the schedule's, else the default."""
    current_a = schedule.current_for(period)
    if current_a is None:
        current_a = default_current_a
    if not math.isfinite(current_a) or current_a < 0:
        raise ValueError(f"charging current {current_a} A is not a non-negative number")
    return float(current_a)


def _wrap(first_s: int, last_s: int, current_a: float) -> list[WeeklyPeriod]:
    """Map elapsed seconds [first_s, last_s) (at most one week long) onto the week, split at its end."""
    from_s = first_s % WEEK_S
    to_s = from_s + (last_s - first_s)
    if to_s <= WEEK_S:
        return [WeeklyPeriod(from_s, to_s, current_a)]
    return [WeeklyPeriod(from_s, WEEK_S, current_a), WeeklyPeriod(0, to_s - WEEK_S, current_a)]


def _merge(pieces: list[WeeklyPeriod]) -> tuple[WeeklyPeriod, ...]:
    """Sort by offset and merge touching or overlapping pieces of equal current.

    A wrapped piece of next week may touch a piece of this week at the same offset, e.g. next Wednesday 10-12
    (asked, before the horizon) and this Wednesday from 12 (now): merging keeps the repeating set unchanged.
    """
    merged: list[WeeklyPeriod] = []
    for piece in sorted(pieces, key=lambda p: (p.from_s, p.to_s)):
        last = merged[-1] if merged else None
        if last is not None and piece.from_s <= last.to_s and piece.max_current_a == last.max_current_a:
            merged[-1] = WeeklyPeriod(last.from_s, max(last.to_s, piece.to_s), last.max_current_a)
        else:
            merged.append(piece)
    return tuple(merged)


def _floor_s(delta: timedelta) -> int:
    """Whole seconds in `delta`, rounded towards minus infinity."""
    return delta // _SECOND


def _ceil_s(delta: timedelta) -> int:
    """Whole seconds in `delta`, rounded towards plus infinity."""
    return -(-delta // _SECOND)


def _floor_instant(when: datetime) -> datetime:
    """`when` in UTC, truncated to the whole second (microseconds are never negative, so this is a floor)."""
    return when.astimezone(UTC).replace(microsecond=0)


def _wire_instant(when: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ` in UTC."""
    return when.astimezone(UTC).strftime(_WIRE_FORMAT)
