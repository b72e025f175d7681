"""Departure times: daily, per weekday, one-off; the next strictly ahead; DST gaps and repeats in three zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_agent.standalone.departure import (
    DepartureSchedule,
    first_instant_showing,
    next_departure,
    parse_clock_time,
)

AMS = ZoneInfo("Europe/Amsterdam")
NYC = ZoneInfo("America/New_York")
SYD = ZoneInfo("Australia/Sydney")
SEVEN = DepartureSchedule.parse("07:00")


@pytest.mark.parametrize(
    ("zone", "day", "expected_utc", "shown"),
    [
        # spring forward: 02:30 does not exist; the clock jumps from 02:00 to 03:00 at this instant
        (AMS, date(2026, 3, 29), datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "03:00+0200"),
        (NYC, date(2026, 3, 8), datetime(2026, 3, 8, 7, 0, tzinfo=UTC), "03:00-0400"),
        (SYD, date(2026, 10, 4), datetime(2026, 10, 3, 16, 0, tzinfo=UTC), "03:00+1100"),
        # fall back: 02:30 (01:30 in New York) occurs twice; the first occurrence, in summer time
        (AMS, date(2026, 10, 25), datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "02:30+0200"),
        (SYD, date(2026, 4, 5), datetime(2026, 4, 4, 15, 30, tzinfo=UTC), "02:30+1100"),
    ],
)
def test_a_time_the_clock_skips_or_repeats(zone: ZoneInfo, day: date, expected_utc: datetime, shown: str) -> None:
    instant = first_instant_showing(day, time(2, 30), zone)

    assert instant == expected_utc
    assert instant.tzinfo is UTC
    assert instant.astimezone(zone).strftime("%H:%M%z") == shown


def test_the_repeated_hour_in_new_york_is_planned_for_its_first_occurrence() -> None:
    instant = first_instant_showing(date(2026, 11, 1), time(1, 30), NYC)

    assert instant == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, not 01:30 EST an hour later
    assert instant.astimezone(NYC).utcoffset() == timedelta(hours=-4)


def test_the_next_departure_is_strictly_ahead() -> None:
    at_seven = datetime(2026, 11, 25, 7, tzinfo=AMS)

    assert SEVEN.next_after(at_seven - timedelta(seconds=1), AMS) == at_seven
    assert SEVEN.next_after(at_seven, AMS) == at_seven + timedelta(days=1)
    assert SEVEN.next_after(datetime(2026, 11, 25, 23, tzinfo=AMS), AMS) == at_seven + timedelta(days=1)


def test_after_the_first_of_two_0230s_the_next_departure_is_the_next_day() -> None:
    schedule = DepartureSchedule.parse("02:30")
    second = datetime(2026, 10, 25, 2, 45, tzinfo=AMS)  # fold=0: the first 02:45, after the first 02:30

    assert schedule.next_after(second, AMS) == datetime(2026, 10, 26, 2, 30, tzinfo=AMS)


def test_per_weekday_departures_skip_days_without_one() -> None:
    schedule = DepartureSchedule.parse({"mon": "07:00", "Wednesday": "8:15", "SAT": "09:30"})
    wednesday_noon = datetime(2026, 11, 25, 12, tzinfo=AMS)  # 2026-11-25 is a Wednesday

    assert schedule.next_after(wednesday_noon, AMS) == datetime(2026, 11, 28, 9, 30, tzinfo=AMS)
    assert schedule.next_after(datetime(2026, 11, 28, 10, tzinfo=AMS), AMS) == datetime(2026, 11, 30, 7, tzinfo=AMS)
    only_wednesday = DepartureSchedule.parse({"wed": "08:15"})
    assert only_wednesday.next_after(wednesday_noon, AMS) == datetime(2026, 12, 2, 8, 15, tzinfo=AMS)


def test_a_one_off_departure_ahead_replaces_the_daily_one_until_it_passes() -> None:
    now = datetime(2026, 11, 25, 20, tzinfo=AMS)
    one_off = datetime(2026, 11, 27, 12, tzinfo=AMS)

    assert next_departure(SEVEN, now, AMS, one_off) == one_off
    assert next_departure(SEVEN, one_off, AMS, one_off) == datetime(2026, 11, 28, 7, tzinfo=AMS)
    assert next_departure(None, now, AMS, one_off) == one_off
    assert next_departure(None, one_off, AMS, one_off) is None
    assert next_departure(SEVEN, now, AMS) == datetime(2026, 11, 26, 7, tzinfo=AMS)
    with pytest.raises(ValueError, match="one-off departure must carry a UTC offset"):
        next_departure(SEVEN, now, AMS, datetime(2026, 11, 27, 12))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("7:60", "'7:60' is not a time HH:MM"),
        ("24:00", "'24:00' is not a time HH:MM"),
        ("07:00:00", "'07:00:00' is not a time HH:MM"),
        ("", "'' is not a time HH:MM"),
        (1350, "1350 is a number, not a time HH:MM: write the time in quotes, e.g. '07:00'"),
        ({"mo": "07:00"}, "'mo' is not a weekday; use mon, tue, wed, thu, fri, sat, sun"),
        ({"mon": "7:60"}, "mon: '7:60' is not a time HH:MM"),
        ({"mon": "07:00", "monday": "08:00"}, "'monday': mon is given twice"),
        ({}, "a departure schedule needs a time on at least one weekday"),
    ],
)
def test_bad_departures_are_refused_with_the_value(value: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        DepartureSchedule.parse(value)
    assert str(caught.value) == message


def test_clock_times_accept_one_digit_hours() -> None:
    assert parse_clock_time("7:05") == time(7, 5)
    assert parse_clock_time("23:59") == time(23, 59)


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from([AMS, NYC, SYD, ZoneInfo("Australia/Lord_Howe")]),
    now_s=st.integers(0, 366 * 86400),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
)
def test_the_next_departure_is_the_first_moment_ahead_the_clock_shows_the_time(
    zone: ZoneInfo, now_s: int, hour: int, minute: int
) -> None:
    """Checked against a minute-by-minute walk of the wall clock (departures are whole minutes in these zones)."""
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=now_s)
    departure = DepartureSchedule.parse(f"{hour:02d}:{minute:02d}").next_after(now, zone)
    wanted = time(hour, minute)

    assert departure > now
    shown = departure.astimezone(zone)
    before = (departure - timedelta(minutes=1)).astimezone(zone)
    # at the departure the clock shows the time or later, on the same day; a minute before it showed an earlier time
    assert shown.time() >= wanted
    assert before.date() < shown.date() or before.time() < wanted
    # and no earlier instant after now qualifies: walk back to now minute by minute would be slow; the day before
    # the departure's local day has its own departure, which must not be ahead of now
    previous_day = shown.date() - timedelta(days=1)
    assert first_instant_showing(previous_day, wanted, zone) <= now or shown.date() == now.astimezone(zone).date()
