"""Tests of the Schedule <-> Charge Amps weekly schedule conversion: hand-computed bodies and exactness properties."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_agent.api import Period, Schedule, ScheduleSource
from energy_agent_chargeamps.weekly import (
    WEEK_S,
    WeeklyPeriod,
    WeeklySchedule,
    following,
    to_weekly,
    to_wire_body,
    week_start,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
ZONES = (AMSTERDAM, NEW_YORK, LORD_HOWE, ZoneInfo("UTC"))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_S = timedelta(seconds=1)
WEEK = timedelta(seconds=WEEK_S)
Span = tuple[int, int, float]


def utc(text: str) -> datetime:
    """An ISO instant read as UTC ("Z" or explicit offset required)."""
    return datetime.fromisoformat(text).astimezone(UTC)


def local(text: str, tz: ZoneInfo) -> datetime:
    """A wall-clock time in `tz` (fold=0 where ambiguous)."""
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def schedule(*periods: Period, max_current_a: float | None = None, expires_at: datetime | None = None) -> Schedule:
    """A HEMS schedule from periods."""
    return Schedule(periods=periods, source=ScheduleSource.HEMS, max_current_a=max_current_a, expires_at=expires_at)


def weeks_later(when: datetime, weeks: int = 1) -> datetime:
    """`when` plus whole weeks of elapsed time (adding to a zoned datetime would add wall-clock time)."""
    return when.astimezone(UTC) + weeks * WEEK


def floor_epoch(when: datetime) -> int:
    """Unix seconds, rounded down."""
    return (when - EPOCH) // ONE_S


def ceil_epoch(when: datetime) -> int:
    """Unix seconds, rounded up."""
    return -((EPOCH - when) // ONE_S)


def exact_epoch(when: datetime) -> int:
    """Unix seconds of an instant that must lie on a whole second."""
    assert when.microsecond == 0, f"{when.isoformat()} is not on a whole second"
    return floor_epoch(when)


def merge_spans(spans: list[Span]) -> list[Span]:
    """Sort and merge touching spans of equal current."""
    merged: list[Span] = []
    for lo, hi, current_a in sorted(spans):
        if merged and merged[-1][1] == lo and merged[-1][2] == current_a:
            merged[-1] = (merged[-1][0], hi, current_a)
        else:
            merged.append((lo, hi, current_a))
    return merged


def asked_spans(sched: Schedule, now: datetime, default_current_a: float) -> list[Span]:
    """What was asked, in Unix seconds: cut to [now, now + 1 week) and expiry, rounded inwards, 0 A left out."""
    lowest = ceil_epoch(now)
    highest = floor_epoch(weeks_later(now))
    if sched.expires_at is not None:
        highest = min(highest, floor_epoch(sched.expires_at))
    spans: list[Span] = []
    for period in sched.periods:
        current_a = period.max_current_a or sched.max_current_a or default_current_a
        lo = max(ceil_epoch(period.start), lowest)
        hi = min(floor_epoch(period.end), highest)
        if lo < hi and current_a > 0:
            spans.append((lo, hi, current_a))
    return merge_spans(spans)


def followed_spans(weekly: WeeklySchedule, start: datetime, end: datetime) -> list[Span]:
    """What a charger following `weekly` charges in [start, end), in Unix seconds."""
    return [(exact_epoch(lo), exact_epoch(hi), current_a) for lo, hi, current_a in following(weekly, start, end)]


def offsets(weekly: WeeklySchedule) -> list[Span]:
    """The weekly periods as (from, to, current) triples."""
    return [(p.from_s, p.to_s, p.max_current_a) for p in weekly.periods]


# --- hand-computed examples -------------------------------------------------------------------------------------


def test_tuesday_evening_in_amsterdam_winter_gives_exact_body() -> None:
    # Monday 23 Nov 2026 00:00 CET (+01:00) = Sunday 22 Nov 23:00 UTC. Tuesday 22:00 = 1 day + 22 h = 165600 s.
    now = local("2026-11-23T10:00:00", AMSTERDAM)
    asked = schedule(Period(local("2026-11-24T22:00:00", AMSTERDAM), local("2026-11-24T23:00:00", AMSTERDAM), 16.0))
    weekly = to_weekly(asked, now=now, tz=AMSTERDAM, default_current_a=10.0)
    body = to_wire_body(weekly, charge_point_id="2011000123A", connector_id=1, tz_name="Europe/Amsterdam")
    assert body == {
        "scheduleId": None,
        "chargePointId": "2011000123A",
        "connectorId": 1,
        "validFrom": None,
        "validTo": None,
        "defaultCurrent": 0,
        "isActive": True,
        "isSynced": True,
        "timeZone": "Europe/Amsterdam",
        "startOfSchedule": "2026-11-22T23:00:00Z",
        "schedulePeriods": [{"from": 165600, "to": 169200, "maxCurrent": 16.0}],
    }
    assert json.loads(json.dumps(body)) == body


def test_body_carries_valid_to_and_float_currents() -> None:
    now = utc("2026-11-23T09:00:00Z")
    asked = schedule(
        Period(utc("2026-11-23T12:00:00Z"), utc("2026-11-23T13:00:00Z")),
        max_current_a=10,
        expires_at=local("2026-11-25T08:00:00", AMSTERDAM),
    )
    body = to_wire_body(
        to_weekly(asked, now=now, tz=AMSTERDAM, default_current_a=6),
        charge_point_id="cp",
        connector_id=2,
        tz_name="Europe/Amsterdam",
    )
    assert body["validTo"] == "2026-11-25T07:00:00Z"
    # 12:00Z is 13 h after the 23:00Z week start.
    assert body["schedulePeriods"] == [{"from": 46800, "to": 50400, "maxCurrent": 10.0}]
    assert isinstance(body["schedulePeriods"][0]["maxCurrent"], float)


def test_period_crossing_sunday_to_monday_is_split() -> None:
    # Week start 2026-11-22T23:00Z; Sunday 22:00 CET = 6 d 22 h = 597600 s; Monday 02:00 = 604800 + 7200.
    now = local("2026-11-29T20:00:00", AMSTERDAM)
    asked = schedule(Period(local("2026-11-29T22:00:00", AMSTERDAM), local("2026-11-30T02:00:00", AMSTERDAM), 20))
    weekly = to_weekly(asked, now=now, tz=AMSTERDAM, default_current_a=6)
    assert weekly.start_of_schedule == utc("2026-11-22T23:00:00Z")
    assert offsets(weekly) == [(0, 7200, 20.0), (597600, WEEK_S, 20.0)]
    assert following(weekly, now, weeks_later(now)) == [
        (utc("2026-11-29T21:00:00Z"), utc("2026-11-30T01:00:00Z"), 20.0)
    ]


def test_next_monday_from_sunday_night_wraps_to_this_mondays_past_offset() -> None:
    # The week start moves: at Sunday 23:00 the period Monday 01:00-02:00 is next week. Its offset 604800 + 3600
    # wraps to 3600, i.e. this Monday 01:00 (past), which repeats a week later at exactly the asked time.
    now = local("2026-11-29T23:00:00", AMSTERDAM)
    asked = schedule(Period(local("2026-11-30T01:00:00", AMSTERDAM), local("2026-11-30T02:00:00", AMSTERDAM), 16))
    weekly = to_weekly(asked, now=now, tz=AMSTERDAM, default_current_a=6)
    assert weekly.start_of_schedule == utc("2026-11-22T23:00:00Z")
    assert offsets(weekly) == [(3600, 7200, 16.0)]
    assert following(weekly, now, weeks_later(now)) == [
        (utc("2026-11-30T00:00:00Z"), utc("2026-11-30T01:00:00Z"), 16.0)
    ]


def test_spring_forward_week_in_amsterdam_uses_elapsed_seconds() -> None:
    # Week of Monday 23 Mar 2026: starts 2026-03-22T23:00Z (CET). Clocks jump 02:00 -> 03:00 on Sunday 29 March.
    # Sunday 00:00-01:00 CET (before the jump) is 6 d elapsed (518400 s), as on the wall clock. Sunday 04:00-06:00
    # CEST = 02:00-04:00Z is 6 d 3 h elapsed (529200 s), one hour less than its wall-clock 6 d 4 h.
    now = local("2026-03-27T12:00:00", AMSTERDAM)
    asked = schedule(
        Period(local("2026-03-29T00:00:00", AMSTERDAM), local("2026-03-29T01:00:00", AMSTERDAM), 10),
        Period(local("2026-03-29T04:00:00", AMSTERDAM), local("2026-03-29T06:00:00", AMSTERDAM), 16),
    )
    weekly = to_weekly(asked, now=now, tz=AMSTERDAM, default_current_a=6)
    assert weekly.start_of_schedule == utc("2026-03-22T23:00:00Z")
    assert offsets(weekly) == [(518400, 522000, 10.0), (529200, 536400, 16.0)]
    assert following(weekly, now, weeks_later(now)) == [
        (utc("2026-03-28T23:00:00Z"), utc("2026-03-29T00:00:00Z"), 10.0),
        (utc("2026-03-29T02:00:00Z"), utc("2026-03-29T04:00:00Z"), 16.0),
    ]


def test_spring_forward_next_monday_wraps_to_offset_zero() -> None:
    # The March week is 604800 - 3600 s long, so next Monday 01:00 CEST (23:00Z) lies exactly 604800 s after
    # the 2026-03-22T23:00Z start: offset 0.
    now = local("2026-03-29T20:00:00", AMSTERDAM)
    asked = schedule(Period(local("2026-03-30T01:00:00", AMSTERDAM), local("2026-03-30T02:00:00", AMSTERDAM), 16))
    weekly = to_weekly(asked, now=now, tz=AMSTERDAM, default_current_a=6)
    assert offsets(weekly) == [(0, 3600, 16.0)]
    assert following(weekly, now, weeks_later(now)) == [
        (utc("2026-03-29T23:00:00Z"), utc("2026-03-30T00:00:00Z"), 16.0)
    ]


def test_fall_back_week_lets_now_lie_beyond_one_week_from_the_start() -> None:
    # Week of Monday 19 Oct 2026 starts 2026-10-18T22:00Z (CEST) and is 25 h longer than 6 days: on Sunday 25 Oct
    # 23:30 CET (22:30Z) 7 d 30 min have elapsed. A Sunday 23:40 - Monday 00:20 period sits at 7 d 40 min ..
    # 7 d 80 min elapsed, which wrap to 2400 .. 4800.
    now = local("2026-10-25T23:30:00", AMSTERDAM)
    asked = schedule(Period(local("2026-10-25T23:40:00", AMSTERDAM), local("2026-10-26T00:20:00", AMSTERDAM), 12))
    weekly = to_weekly(asked, now=now, tz=AMSTERDAM, default_current_a=6)
    assert weekly.start_of_schedule == utc("2026-10-18T22:00:00Z")
    assert offsets(weekly) == [(2400, 4800, 12.0)]
    assert following(weekly, now, weeks_later(now)) == [
        (utc("2026-10-25T22:40:00Z"), utc("2026-10-25T23:20:00Z"), 12.0)
    ]


def test_fall_back_hour_is_counted_twice_in_elapsed_seconds() -> None:
    # Sunday 25 Oct 2026 02:30 happens twice in Amsterdam; 02:00 CEST (00:00Z) -> 03:00 CET (02:00Z) lasts 2 h.
    now = local("2026-10-24T12:00:00", AMSTERDAM)
    asked = schedule(Period(utc("2026-10-25T00:00:00Z"), local("2026-10-25T03:00:00", AMSTERDAM), 16))
    weekly = to_weekly(asked, now=now, tz=AMSTERDAM, default_current_a=6)
    # From 2026-10-18T22:00Z: 6 d 2 h = 525600 s, 7200 s long.
    assert offsets(weekly) == [(525600, 532800, 16.0)]


def test_lord_howe_half_hour_dst_week() -> None:
    # Lord Howe goes from +10:30 to +11:00 at 02:00 on Sunday 4 Oct 2026. The week starts Monday 28 Sep 00:00
    # +10:30 = 2026-09-27T13:30Z. Sunday 03:00-04:00 +11:00 = 2026-10-03T16:00Z-17:00Z: 6 d 2.5 h = 527400 s.
    now = local("2026-10-01T09:00:00", LORD_HOWE)
    asked = schedule(Period(local("2026-10-04T03:00:00", LORD_HOWE), local("2026-10-04T04:00:00", LORD_HOWE), 32))
    weekly = to_weekly(asked, now=now, tz=LORD_HOWE, default_current_a=6)
    body = to_wire_body(weekly, charge_point_id="cp", connector_id=1, tz_name="Australia/Lord_Howe")
    assert body["startOfSchedule"] == "2026-09-27T13:30:00Z"
    assert body["schedulePeriods"] == [{"from": 527400, "to": 531000, "maxCurrent": 32.0}]


def test_new_york_start_of_schedule_is_local_monday() -> None:
    assert week_start(utc("2026-07-08T12:00:00Z"), NEW_YORK) == utc("2026-07-06T04:00:00Z")
    assert week_start(utc("2026-01-07T12:00:00Z"), NEW_YORK) == utc("2026-01-05T05:00:00Z")
    # Monday 00:30 in New York is still Sunday in UTC terms, but the week is the local one.
    assert week_start(local("2026-01-05T00:30:00", NEW_YORK), NEW_YORK) == utc("2026-01-05T05:00:00Z")
    # One second before local Monday belongs to the previous week.
    assert week_start(local("2026-01-04T23:59:59", NEW_YORK), NEW_YORK) == utc("2025-12-29T05:00:00Z")


def test_running_period_is_cut_at_now_rounding_inwards() -> None:
    now = utc("2026-11-23T09:00:00.250000Z")
    asked = schedule(Period(utc("2026-11-23T08:00:00Z"), utc("2026-11-23T10:00:00.750000Z"), 16))
    weekly = to_weekly(asked, now=now, tz=AMSTERDAM, default_current_a=6)
    # From the 23:00Z start: 10 h + 1 s (start rounded up) to 11 h (end rounded down).
    assert offsets(weekly) == [(36001, 39600, 16.0)]


def test_sub_second_remainder_is_dropped() -> None:
    now = utc("2026-11-23T09:00:00.100000Z")
    asked = schedule(Period(utc("2026-11-23T09:00:00.200000Z"), utc("2026-11-23T09:00:00.900000Z"), 16))
    assert to_weekly(asked, now=now, tz=AMSTERDAM, default_current_a=6).periods == ()


def test_past_periods_are_dropped_and_horizon_cuts() -> None:
    now = utc("2026-11-25T12:00:00Z")  # Wednesday, 2 d 13 h after the 2026-11-22T23:00Z start
    asked = schedule(
        Period(utc("2026-11-24T00:00:00Z"), utc("2026-11-25T12:00:00Z"), 16),  # ended exactly at now
        Period(utc("2026-12-02T10:00:00Z"), utc("2026-12-02T14:00:00Z"), 16),  # crosses now + 1 week
        Period(utc("2026-12-03T00:00:00Z"), utc("2026-12-03T01:00:00Z"), 16),  # wholly beyond the horizon
    )
    weekly = to_weekly(asked, now=now, tz=AMSTERDAM, default_current_a=6)
    # Next Wednesday 10:00Z..12:00Z wraps to this Wednesday: 2 d 11 h .. 2 d 13 h.
    assert offsets(weekly) == [(212400, 219600, 16.0)]


def test_currents_fall_back_from_period_to_schedule_to_default() -> None:
    now = utc("2026-11-23T00:00:00Z")
    hour = timedelta(hours=1)
    periods = (
        Period(now + hour, now + 2 * hour, 20),
        Period(now + 3 * hour, now + 4 * hour),
    )
    with_schedule_current = to_weekly(schedule(*periods, max_current_a=13), now=now, tz=AMSTERDAM, default_current_a=6)
    with_default = to_weekly(schedule(*periods), now=now, tz=AMSTERDAM, default_current_a=6)
    assert [p.max_current_a for p in with_schedule_current.periods] == [20.0, 13.0]
    assert [p.max_current_a for p in with_default.periods] == [20.0, 6.0]


def test_touching_periods_merge_only_with_equal_current() -> None:
    now = utc("2026-11-23T00:00:00Z")
    hour = timedelta(hours=1)
    asked = schedule(
        Period(now + hour, now + 2 * hour, 16),
        Period(now + 2 * hour, now + 3 * hour, 16),
        Period(now + 3 * hour, now + 4 * hour, 10),
    )
    weekly = to_weekly(asked, now=now, tz=AMSTERDAM, default_current_a=6)
    assert offsets(weekly) == [(7200, 14400, 16.0), (14400, 18000, 10.0)]


def test_wrapped_next_week_piece_merges_with_this_weeks_piece() -> None:
    # Now is Wednesday 12:00Z. Next Wednesday 10:00-12:00Z wraps to just before now's offset and touches the
    # period running from now: one weekly period covers both.
    now = utc("2026-11-25T12:00:00Z")
    asked = schedule(
        Period(now, now + timedelta(hours=2), 16),
        Period(now + WEEK - timedelta(hours=2), now + WEEK, 16),
    )
    weekly = to_weekly(asked, now=now, tz=AMSTERDAM, default_current_a=6)
    # 2 d 11 h .. 2 d 15 h after the 2026-11-22T23:00Z start.
    assert offsets(weekly) == [(212400, 226800, 16.0)]
    assert followed_spans(weekly, now, weeks_later(now)) == asked_spans(asked, now, 6)


def test_zero_current_periods_are_left_out() -> None:
    now = utc("2026-11-23T00:00:00Z")
    asked = schedule(Period(now + timedelta(hours=1), now + timedelta(hours=2), 0))
    assert to_weekly(asked, now=now, tz=AMSTERDAM, default_current_a=6).periods == ()


def test_empty_and_expired_schedules_give_no_periods() -> None:
    now = utc("2026-11-23T00:00:00Z")
    later = Period(now + timedelta(hours=1), now + timedelta(hours=2), 16)
    assert to_weekly(schedule(), now=now, tz=AMSTERDAM, default_current_a=6).periods == ()
    expired = to_weekly(schedule(later, expires_at=now), now=now, tz=AMSTERDAM, default_current_a=6)
    assert expired.periods == ()
    assert expired.valid_to == now


def test_expiry_cuts_periods_and_becomes_valid_to() -> None:
    now = utc("2026-11-23T00:00:00Z")
    expires = utc("2026-11-23T01:30:00.900000Z")
    asked = schedule(Period(now + timedelta(hours=1), now + timedelta(hours=2), 16), expires_at=expires)
    weekly = to_weekly(asked, now=now, tz=AMSTERDAM, default_current_a=6)
    assert weekly.valid_to == utc("2026-11-23T01:30:00Z")
    assert offsets(weekly) == [(7200, 9000, 16.0)]


def test_charger_repeats_weekly_until_valid_to() -> None:
    # With the agent down, the schedule repeats every week, and stops at validTo.
    start = utc("2026-11-22T23:00:00Z")
    weekly = WeeklySchedule(start, (WeeklyPeriod(3600, 7200, 16.0),), valid_to=start + 2 * WEEK + timedelta(hours=1.5))
    assert following(weekly, start, start + 4 * WEEK) == [
        (start + timedelta(hours=1), start + timedelta(hours=2), 16.0),
        (start + WEEK + timedelta(hours=1), start + WEEK + timedelta(hours=2), 16.0),
        (start + 2 * WEEK + timedelta(hours=1), start + 2 * WEEK + timedelta(hours=1.5), 16.0),
    ]


def test_following_clips_to_the_window_and_joins_the_split_halves() -> None:
    start = utc("2026-11-22T23:00:00Z")
    weekly = WeeklySchedule(start, (WeeklyPeriod(0, 100, 10.0), WeeklyPeriod(WEEK_S - 100, WEEK_S, 10.0)))
    window_start = start + WEEK - timedelta(seconds=50)
    assert following(weekly, window_start, window_start + timedelta(seconds=100)) == [
        (window_start, window_start + timedelta(seconds=100), 10.0)
    ]
    assert following(weekly, window_start, window_start) == []


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        to_weekly(schedule(), now=datetime(2026, 11, 23, 12, 0), tz=AMSTERDAM, default_current_a=6)


@pytest.mark.parametrize(
    ("from_s", "to_s", "current_a"),
    [(-1, 10, 16.0), (10, 10, 16.0), (0, WEEK_S + 1, 16.0), (0, 10, -1.0), (0, 10, float("nan"))],
)
def test_weekly_period_refuses_invalid_values(from_s: int, to_s: int, current_a: float) -> None:
    with pytest.raises(ValueError, match="weekly period"):
        WeeklyPeriod(from_s, to_s, current_a)


def test_weekly_schedule_refuses_overlaps_and_non_utc_start() -> None:
    start = utc("2026-11-22T23:00:00Z")
    with pytest.raises(ValueError, match="overlap"):
        WeeklySchedule(start, (WeeklyPeriod(0, 100, 16.0), WeeklyPeriod(50, 150, 16.0)))
    with pytest.raises(ValueError, match="UTC"):
        WeeklySchedule(start.astimezone(AMSTERDAM), ())


# --- properties -------------------------------------------------------------------------------------------------


def _transitions(tz: ZoneInfo) -> list[datetime]:
    """The instants in 2025-2028 where `tz` changes its UTC offset, found to the second."""
    found: list[datetime] = []
    day = datetime(2025, 1, 1, tzinfo=UTC)
    while day.year < 2029:
        after = day + timedelta(days=1)
        if day.astimezone(tz).utcoffset() != after.astimezone(tz).utcoffset():
            lo, hi = day, after
            while hi - lo > ONE_S:
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset():
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
        day = after
    return found


TRANSITIONS = {tz.key: _transitions(tz) for tz in ZONES}
FIRST_MONDAY = date(2025, 1, 6)
KINDS = ("anywhere", "monday", "dst", "dst", "dst_week_end")  # DST twice: the hard cases
SUB_SECOND = st.one_of(st.just(0), st.integers(0, 999_999))
CURRENTS = st.one_of(st.none(), st.integers(6, 32).map(float))


def test_transition_table_sees_dst_both_ways() -> None:
    # Guards the generator below: the DST-focused nows are only meaningful if transitions were found.
    assert len(TRANSITIONS["Europe/Amsterdam"]) == 8
    assert utc("2026-03-29T01:00:00Z") in TRANSITIONS["Europe/Amsterdam"]
    assert utc("2026-10-25T01:00:00Z") in TRANSITIONS["Europe/Amsterdam"]
    assert utc("2026-10-03T15:30:00Z") in TRANSITIONS["Australia/Lord_Howe"]
    assert TRANSITIONS["UTC"] == []


@dataclass(frozen=True)
class Case:
    """One generated conversion input."""

    tz: ZoneInfo
    now: datetime
    schedule: Schedule
    default_current_a: float


def as_sent(when: datetime, tz: ZoneInfo) -> datetime:
    """`when` with the fixed UTC offset `tz` has then, as `datetime.fromisoformat` reads "...+01:00"."""
    return datetime.fromisoformat(when.astimezone(tz).isoformat())


def _next_local_monday(when: datetime, tz: ZoneInfo) -> datetime:
    """The first local Monday 00:00 after `when`, in UTC."""
    day = when.astimezone(tz).date()
    return datetime.combine(day + timedelta(days=7 - day.weekday()), time(0), tzinfo=tz).astimezone(UTC)


@st.composite
def nows(draw: st.DrawFn, tz: ZoneInfo) -> datetime:
    """Instants anywhere; near a local Monday midnight; in the week before a DST change; or near the end of a
    week that had one (where, after a fall-back, more than 604800 s have elapsed since the week's start)."""
    transitions = TRANSITIONS[tz.key]
    kind = draw(
        st.sampled_from(["anywhere", "monday", "dst", "dst_week_end"] if transitions else ["anywhere", "monday"])
    )
    near = st.integers(-3 * 3600, 3 * 3600)
    if kind == "anywhere":
        base, shift = datetime(2025, 1, 1, tzinfo=UTC), st.integers(0, 4 * 365 * 86400)
    elif kind == "monday":
        base = datetime.combine(FIRST_MONDAY + timedelta(weeks=draw(st.integers(0, 200))), time(0), tzinfo=tz)
        base, shift = base.astimezone(UTC), near
    elif kind == "dst":
        base, shift = draw(st.sampled_from(transitions)), st.one_of(near, st.integers(-7 * 86400, 0))
    else:
        base, shift = _next_local_monday(draw(st.sampled_from(transitions)), tz), near
    return base + timedelta(seconds=draw(shift), microseconds=draw(SUB_SECOND))


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A zone, a now and a schedule of up to 8 periods around the coming week (some past, some beyond it)."""
    tz = draw(st.sampled_from(ZONES))
    now = draw(nows(tz))
    cursor = now + timedelta(seconds=draw(st.integers(-2 * 86400, 86400)))
    periods: list[Period] = []
    for _ in range(draw(st.integers(1, 8))):
        start = cursor + timedelta(seconds=draw(st.integers(0, 36 * 3600)), microseconds=draw(SUB_SECOND))
        end = start + timedelta(seconds=draw(st.integers(1, 36 * 3600)), microseconds=draw(SUB_SECOND))
        # Periods carry the local offset, as parsed from a HEMS's ISO strings: the conversion must not mix them up.
        periods.append(Period(as_sent(start, tz), as_sent(end, tz), draw(CURRENTS)))
        cursor = end
    expires_at = draw(st.one_of(st.none(), st.integers(-3600, 9 * 86400).map(lambda s: now + timedelta(seconds=s))))
    sched = schedule(*periods, max_current_a=draw(CURRENTS), expires_at=expires_at)
    return Case(tz, now.astimezone(tz), sched, float(draw(st.integers(6, 32))))


@settings(max_examples=300, deadline=None)
@given(cases())
def test_charger_follows_exactly_what_was_asked_in_the_coming_week(case: Case) -> None:
    weekly = to_weekly(case.schedule, now=case.now, tz=case.tz, default_current_a=case.default_current_a)
    asked = asked_spans(case.schedule, case.now, case.default_current_a)
    assert followed_spans(weekly, case.now, weeks_later(case.now)) == asked


@settings(max_examples=300, deadline=None)
@given(cases())
def test_with_the_agent_down_the_next_week_repeats_until_expiry(case: Case) -> None:
    weekly = to_weekly(case.schedule, now=case.now, tz=case.tz, default_current_a=case.default_current_a)
    stop = None if weekly.valid_to is None else exact_epoch(weekly.valid_to)
    repeated = [
        (lo + WEEK_S, hi + WEEK_S if stop is None else min(hi + WEEK_S, stop), current_a)
        for lo, hi, current_a in asked_spans(case.schedule, case.now, case.default_current_a)
    ]
    assert followed_spans(weekly, weeks_later(case.now), weeks_later(case.now, 2)) == [
        span for span in repeated if span[0] < span[1]
    ]


@settings(max_examples=300, deadline=None)
@given(cases())
def test_offsets_are_sorted_whole_seconds_within_the_week(case: Case) -> None:
    weekly = to_weekly(case.schedule, now=case.now, tz=case.tz, default_current_a=case.default_current_a)
    body = to_wire_body(weekly, charge_point_id="cp", connector_id=1, tz_name=case.tz.key)
    previous_to = 0
    for period in body["schedulePeriods"]:
        assert type(period["from"]) is int
        assert type(period["to"]) is int
        assert type(period["maxCurrent"]) is float
        assert previous_to <= period["from"] < period["to"] <= WEEK_S
        assert 6 <= period["maxCurrent"] <= 32
        previous_to = period["to"]
    assert datetime.fromisoformat(body["startOfSchedule"]) == weekly.start_of_schedule
    assert json.loads(json.dumps(body)) == body


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ZONES).flatmap(lambda tz: st.tuples(st.just(tz), nows(tz))))
def test_week_start_is_local_monday_midnight_not_after_now(zone_and_now: tuple[ZoneInfo, datetime]) -> None:
    tz, now = zone_and_now
    start = week_start(now, tz)
    assert start.utcoffset() == timedelta(0)
    assert start <= now < start + WEEK + timedelta(hours=1)
    local_start = start.astimezone(tz)
    assert (local_start.weekday(), local_start.time()) == (0, time(0))
    assert local_start.date() == now.astimezone(tz).date() - timedelta(days=now.astimezone(tz).weekday())
