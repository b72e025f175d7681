"""The price report: the state and the words the status, /healthz and the Home Assistant entity show."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from energy_agent.api.domain import PriceCurve, PriceSlot
from energy_agent.prices.board import PriceBoard
from energy_agent.prices.health import board_report, local_time, tomorrow_overdue
from energy_agent.testing.clock import ManualClock

AMS = ZoneInfo("Europe/Amsterdam")
HOUR = timedelta(hours=1)


def hours(start: datetime, count: int) -> PriceCurve:
    return PriceCurve(tuple(PriceSlot(start + i * HOUR, start + (i + 1) * HOUR, 0.2) for i in range(count)))


def test_midnight_reads_as_the_end_of_the_day_before() -> None:
    assert local_time(datetime(2026, 11, 26, 23, 0, tzinfo=ZoneInfo("UTC")), AMS) == "2026-11-26 24:00"
    assert local_time(datetime(2026, 11, 30, 14, 2, tzinfo=AMS), AMS, with_date=False) == "14:02"


async def test_no_source_is_not_configured_and_a_good_curve_is_ok() -> None:
    clock = ManualClock(datetime(2026, 11, 25, 9, 0, tzinfo=AMS))
    board = PriceBoard(clock, zone=AMS)
    assert board_report(board, clock.now(), AMS).state == "not_configured"
    board = PriceBoard(clock, source="file", zone=AMS)
    report = board_report(board, clock.now(), AMS)
    assert (report.state, report.warnings) == ("stale", ("prices (file): no prices received yet",))
    await board.update(hours(datetime(2026, 11, 25, tzinfo=AMS), 48))
    report = board_report(board, clock.now(), AMS)
    assert (report.state, report.covers_now, report.warnings) == ("ok", True, ())


async def test_a_failed_fetch_is_an_error_until_the_prices_run_short() -> None:
    clock = ManualClock(datetime(2026, 11, 25, 9, 0, tzinfo=AMS))
    board = PriceBoard(clock, source="file", zone=AMS)
    await board.update(hours(datetime(2026, 11, 25, tzinfo=AMS), 24))
    await clock.advance(3600)
    board.error("cannot read price file /x: No such file or directory")
    report = board_report(board, clock.now(), AMS)
    assert report.state == "error"
    assert report.warnings == (
        "prices (file): last update failed at 10:00: cannot read price file /x: No such file or directory; "
        "prices cover until 2026-11-25 24:00",
    )
    await clock.advance(11.5 * 3600)  # 21:30: the prices end in less than 3 hours
    assert board_report(board, clock.now(), AMS).state == "stale"


async def test_a_day_ahead_source_without_tomorrow_an_hour_after_publication_is_stale() -> None:
    clock = ManualClock(datetime(2026, 11, 25, 13, 30, tzinfo=AMS))
    board = PriceBoard(clock, source="entsoe", zone=AMS)
    await board.update(hours(datetime(2026, 11, 25, tzinfo=AMS), 24))
    assert board_report(board, clock.now(), AMS).state == "ok"
    await clock.advance(1800)  # 14:00
    report = board_report(board, clock.now(), AMS)
    assert report.state == "stale"
    assert report.warnings == (
        "prices (entsoe): prices cover until 2026-11-25 24:00; tomorrow's prices are missing (expected from 13:00)",
    )
    await board.update(hours(datetime(2026, 11, 25, tzinfo=AMS), 48))
    assert board_report(board, clock.now(), AMS).state == "ok"
    # a file source has no publication time: no such warning
    assert tomorrow_overdue(clock.now(), datetime(2026, 11, 26, tzinfo=AMS)) is not None
    other = PriceBoard(clock, source="file", zone=AMS)
    await other.update(hours(datetime(2026, 11, 25, tzinfo=AMS), 24))
    assert board_report(other, clock.now(), AMS).state == "ok"
