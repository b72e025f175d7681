"""The pure pieces of ready-by at run time: when a re-plan is worth a device write, the history a plan keeps, the
energy an on/off load delivered, the last departure, and state-of-charge readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from energy_agent.api.domain import Period, Schedule, ScheduleSource
from energy_agent.runtime.charge_need import delivered_by_schedule
from energy_agent.runtime.planner import same_from_now, with_history
from energy_agent.runtime.soc import parse_soc
from energy_agent.standalone.departure import DepartureSchedule

AMS = ZoneInfo("Europe/Amsterdam")
T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def schedule(*spans: tuple[float, float], source: ScheduleSource = ScheduleSource.STANDALONE) -> Schedule:
    return Schedule(tuple(Period(at(a), at(b), 16.0) for a, b in spans), source, 16.0, at(24 * 60))


def test_a_plan_that_differs_only_before_now_or_by_a_minute_at_an_end_is_the_same() -> None:
    held = schedule((60, 120), (180, 210))
    assert same_from_now(held, schedule((70, 120), (180, 210)), at(70))  # started at now instead of 60
    assert same_from_now(held, schedule((60, 120), (180, 211)), at(70))  # the minute's rounding
    assert same_from_now(held, schedule((60, 121), (180, 210)), at(70))  # in any period, not only the last
    assert not same_from_now(held, schedule((60, 120), (180, 212)), at(70))
    assert not same_from_now(held, schedule((60, 120), (181, 210)), at(70))
    assert not same_from_now(held, schedule((60, 120)), at(70))
    assert not same_from_now(held, schedule((60, 120), (180, 210), source=ScheduleSource.HEMS), at(70))
    assert not same_from_now(None, held, at(70))


def test_a_new_plan_keeps_the_part_already_run() -> None:
    held = schedule((60, 120), (180, 210))
    new = schedule((90, 120), (200, 240))
    assert with_history(held, new, at(90)).periods == schedule((60, 120), (200, 240)).periods
    assert with_history(held, new, at(30)).periods == new.periods, "nothing had run yet"
    assert with_history(schedule((60, 120), source=ScheduleSource.HEMS), new, at(90)) == new


def test_an_on_off_load_delivered_its_rating_times_the_time_it_ran_since_the_departure() -> None:
    held = schedule((60, 120), (180, 210))
    assert delivered_by_schedule(held, None, at(200), 2.0) == pytest.approx(2.0 * (60 + 20) / 60)
    assert delivered_by_schedule(held, at(90), at(200), 2.0) == pytest.approx(2.0 * (30 + 20) / 60)
    assert delivered_by_schedule(None, None, at(200), 2.0) == 0


def test_the_last_departure_at_or_before_now() -> None:
    daily = DepartureSchedule.parse("07:00")
    now = datetime(2026, 11, 25, 6, 59, tzinfo=AMS)
    assert daily.last_at_or_before(now, AMS) == datetime(2026, 11, 24, 7, 0, tzinfo=AMS)
    assert daily.last_at_or_before(now + timedelta(minutes=1), AMS) == datetime(2026, 11, 25, 7, 0, tzinfo=AMS)
    saturdays = DepartureSchedule.parse({"sat": "09:30"})  # 2026-11-25 is a Wednesday
    assert saturdays.last_at_or_before(now, AMS) == datetime(2026, 11, 21, 9, 30, tzinfo=AMS)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"64", 64.0),
        (b" 64.5\n", 64.5),
        (b'{"soc": 80}', 80.0),
        (b'{"battery_level": "55"}', 55.0),
        (b"0", 0.0),
        (b"unavailable", None),
        (b"unknown", None),
        (b"", None),
    ],
)
def test_state_of_charge_readings(payload: bytes, expected: float | None) -> None:
    assert parse_soc(payload) == expected


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"101", "within 0..100"),
        (b"-1", "within 0..100"),
        (b"full", "not a number"),
        (b"true", "not a number"),
        (b'{"level": 5}', "needs one of soc"),
        (b"NaN", "not a number"),
        (b"[50]", "not a number"),
    ],
)
def test_malformed_state_of_charge_is_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_soc(payload)
