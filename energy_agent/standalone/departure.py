"""Departure times for the `ready-by` policy: a daily `HH:MM` in the agent's zone, optionally per weekday.

The departure on a day is **the first instant at which the wall clock shows the time or later**:

- a time that exists once is that instant;
- a time that occurs twice (the autumn DST change, e.g. 02:30 in Amsterdam on 2026-10-25) is its first
  occurrence, in summer time: the car is ready the first time the clock shows 02:30;
- a time that does not exist (the spring change, e.g. 02:30 in Amsterdam on 2026-03-29) is the instant the
  clock jumps over it (03:00 summer time, 01:00 UTC): the first moment the clock shows 02:30 or later.

The departure used is the next one strictly ahead of now. A one-off departure (set at run time) that is still
ahead of now replaces the daily ones until it has passed. Pure: `now` is always passed in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday keys of a per-weekday departure map, Monday first (`date.weekday()` order)."""
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_LOOK_AHEAD_DAYS = 8
"""Today and the next 7 days: every weekday once, and today's again in a week."""


def parse_clock_time(text: object) -> time:
    """`"07:00"` (or `"7:00"`) as a time; ValueError `'7:60' is not a time HH:MM` otherwise."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        # YAML 1.1 reads an unquoted 22:30 as the number 1350 (base 60)
        raise ValueError(f"{text!r} is a number, not a time HH:MM: write the time in quotes, e.g. '07:00'")
    match = _CLOCK.fullmatch(text) if isinstance(text, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"{text!r} is not a time HH:MM")
    return time(int(match[1]), int(match[2]))


def weekday_index(name: object) -> int:
    """0 for `mon` (or `monday`, any case) … 6 for `sun`; ValueError naming the accepted keys otherwise."""
    key = name.strip().lower() if isinstance(name, str) else ""
    if key in WEEKDAYS:
        return WEEKDAYS.index(key)
    if key in _FULL_NAMES:
        return _FULL_NAMES.index(key)
    raise ValueError(f"{name!r} is not a weekday; use {', '.join(WEEKDAYS)}")


@dataclass(frozen=True)
class DepartureSchedule:
    """The daily departure time per weekday (Monday first); None on a day without a departure."""

    times: tuple[time | None, ...]

    def __post_init__(self) -> None:
        if len(self.times) != len(WEEKDAYS):
            raise ValueError(f"a departure schedule has 7 weekdays, got {len(self.times)}")
        if all(at is None for at in self.times):
            raise ValueError("a departure schedule needs a time on at least one weekday")

    @classmethod
    def parse(cls, value: object) -> DepartureSchedule:
        """From a config value: `"07:00"` (every day) or a map such as `{mon: "07:00", sat: "09:30"}`.

        Days missing from a map have no departure. ValueError with the offending key and value.
        """
        if not isinstance(value, Mapping):
            return cls((parse_clock_time(value),) * len(WEEKDAYS))
        times: list[time | None] = [None] * len(WEEKDAYS)
        for name, text in value.items():
            index = weekday_index(name)
            if times[index] is not None:
                raise ValueError(f"{name!r}: {WEEKDAYS[index]} is given twice")
            try:
                times[index] = parse_clock_time(text)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return cls(tuple(times))

    def next_after(self, now: datetime, tz: tzinfo) -> datetime:
        """The first departure strictly after `now` (UTC)."""
        today = now.astimezone(tz).date()
        for offset in range(_LOOK_AHEAD_DAYS):
            day = today + timedelta(days=offset)
            at = self.times[day.weekday()]
            if at is None:
                continue
            instant = first_instant_showing(day, at, tz)
            if instant > now:
                return instant
        raise AssertionError("unreachable: a weekday with a time recurs within 8 days")  # pragma: no cover

    def last_at_or_before(self, now: datetime, tz: tzinfo) -> datetime | None:
        """The latest departure at or before `now` (UTC) within the last 8 days; None when there is none."""
        today = now.astimezone(tz).date()
        for offset in range(_LOOK_AHEAD_DAYS):
            day = today - timedelta(days=offset)
            at = self.times[day.weekday()]
            if at is not None and (instant := first_instant_showing(day, at, tz)) <= now:
                return instant
        return None


def first_instant_showing(day: date, at: time, tz: tzinfo) -> datetime:
    """The first instant (UTC) on local `day` at which the wall clock in `tz` shows `at` or later."""
    wall = datetime.combine(day, at)
    # fold=0 is the first occurrence of a repeated time; in a gap it lands after the jump
    after = wall.replace(tzinfo=tz).astimezone(UTC)
    if after.astimezone(tz).replace(tzinfo=None) == wall:
        return after
    # `wall` lies in a gap: find the jump between a moment before it (fold=1) and `after`, to the second
    low = int(wall.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    high = int(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def next_departure(
    schedule: DepartureSchedule | None, now: datetime, tz: tzinfo, one_off: datetime | None = None
) -> datetime | None:
    """The departure to plan for (UTC): a one-off still ahead of `now`, else the next daily one, else None."""
    if one_off is not None:
        if one_off.tzinfo is None or one_off.utcoffset() is None:
            raise ValueError(f"a one-off departure must carry a UTC offset, got {one_off.isoformat()}")
        if one_off > now:
            return one_off.astimezone(UTC)
    return None if schedule is None else schedule.next_after(now, tz)
