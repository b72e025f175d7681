"""Read-back of what the Charge Amps cloud holds (`ScheduleReader`), over real HTTP against the simulator,
and the property that unrolling a weekly schedule inverts writing it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_agent.api import (
    DeviceContext,
    DeviceError,
    DeviceUnavailableError,
    HeldSchedule,
    Period,
    Schedule,
    ScheduleReader,
    ScheduleSource,
    merge_periods,
)
from energy_agent.testing import ManualClock, NoMqtt
from energy_agent_chargeamps.client import SmartChargingSchedule
from energy_agent_chargeamps.config import ChargeAmpsConfig
from energy_agent_chargeamps.connector import ChargeAmpsConnector, ChargeAmpsScheduleConnector
from energy_agent_chargeamps.plugin import create_connectors
from energy_agent_chargeamps.simulator import Fault, FaultMode, Simulator
from energy_agent_chargeamps.simulator.faults import MALFORMED_JSON_BODY
from energy_agent_chargeamps.weekly import WEEK_S, following, from_stored, to_weekly, to_wire_body

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=AMS)  # Tuesday 10:00 local
MONDAY = datetime(2026, 11, 23, 0, 0, tzinfo=AMS)  # the schedule week's start
WEEK = timedelta(seconds=WEEK_S)
EMAIL = "owner@example.com"
SCHEDULES_ROUTE = "GET /api/smartChargingSchedules/chargepoint/{chargePointId}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[Simulator]:
    simulator = Simulator(clock)
    simulator.add_account(email=EMAIL, password="pw-secret", api_key="key-secret")
    simulator.add_charge_point(email=EMAIL, product="HALO", charge_point_id="HALO1")
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


async def device(sim: Simulator, clock: ManualClock, tmp_path: Path, **config: Any) -> ChargeAmpsConnector:
    settings_ = ChargeAmpsConfig(
        email=EMAIL, password="pw-secret", base_url=sim.base_url, charge_point_id="HALO1", **config
    )
    context = DeviceContext(clock=clock, timezone=AMS, state_dir=tmp_path, mqtt=NoMqtt())
    (built,) = await create_connectors(settings_, context)
    await built.start()
    return built


async def reader(sim: Simulator, clock: ManualClock, tmp_path: Path, **config: Any) -> ChargeAmpsScheduleConnector:
    built = await device(sim, clock, tmp_path, **config)
    assert isinstance(built, ChargeAmpsScheduleConnector)
    return built


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def hems(*spans: tuple[float, float], current: float | None = 10, expires_h: float | None = None) -> Schedule:
    return Schedule(
        periods=tuple(Period(at(a), at(b)) for a, b in spans),
        source=ScheduleSource.HEMS,
        max_current_a=current,
        expires_at=None if expires_h is None else at(expires_h),
    )


# --- who is a reader --------------------------------------------------------------------------------------------


async def test_only_the_user_app_device_is_a_schedule_reader(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    userapp = await device(sim, clock, tmp_path)
    official = await device(sim, clock, tmp_path, api="official", api_key="key-secret")
    assert isinstance(userapp, ScheduleReader)
    assert not isinstance(official, ScheduleReader)
    assert not hasattr(official, "read_schedule")
    await userapp.close()
    await official.close()


# --- what was written, read back ----------------------------------------------------------------------------------


async def test_a_written_schedule_reads_back_as_its_periods(sim: Simulator, clock: ManualClock, tmp_path: Path) -> None:
    connector = await reader(sim, clock, tmp_path)
    await connector.apply_schedule(hems((12, 14), (16, 17), (17, 18), expires_h=20))

    held = await connector.read_schedule()

    assert held == HeldSchedule(
        periods=(Period(at(12), at(14), 10.0), Period(at(16), at(18), 10.0)),
        read_at=NOW,
        valid_until=at(20),
        detail=held.detail,
    )
    assert held.detail is not None
    assert "2 period(s) a week" in held.detail
    assert "until 2026-11-25 05:00 UTC" in held.detail
    await connector.close()


async def test_the_read_back_shows_next_weeks_repeat(sim: Simulator, clock: ManualClock, tmp_path: Path) -> None:
    """A schedule without expiry repeats weekly: two hours later, the charger holds next week's copy."""
    connector = await reader(sim, clock, tmp_path)
    await connector.apply_schedule(hems((1, 2), current=None))
    await clock.advance(2 * 3600)

    held = await connector.read_schedule()

    assert held.periods == (Period(at(1) + WEEK, at(2) + WEEK, 16.0),)  # the configured max current, 16 A
    assert held.read_at == at(2)
    await connector.close()


async def test_a_write_whose_answer_was_lost_is_seen_held(sim: Simulator, clock: ManualClock, tmp_path: Path) -> None:
    connector = await reader(sim, clock, tmp_path, timeout_s=0.2)
    await connector.read_status()  # logged in
    sim.inject("PUT /api/smartChargingSchedules", Fault.LATE_ANSWER, mode=FaultMode.ALWAYS, delay_s=5.0)

    running = asyncio.ensure_future(connector.apply_schedule(hems((3, 5), current=8)))
    while not running.done():
        await clock.advance(60)  # retry sleeps run on the injected clock
        await asyncio.sleep(0.05)
    with pytest.raises(DeviceUnavailableError, match=r"no answer within 0\.2 s"):
        await running
    sim.clear_faults()

    held = await connector.read_schedule()
    # The clock moved while the retries slept; what the charger holds is the asked 13:00-15:00 at 8 A.
    assert held.periods == (Period(at(3), at(5), 8.0),)
    await connector.close()


# --- changed behind the agent's back ----------------------------------------------------------------------------


async def test_the_owners_app_replacing_the_schedule_is_seen(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    connector = await reader(sim, clock, tmp_path)
    await connector.apply_schedule(hems((1, 2)))
    # Wednesday 02:00-05:00 local, 32 A, written by the app on the same week anchor.
    sim.app_store_schedule("HALO1", 1, [(2 * 86400 + 2 * 3600, 2 * 86400 + 5 * 3600, 32.0)])

    held = await connector.read_schedule()

    assert held.periods == (Period(MONDAY + timedelta(days=2, hours=2), MONDAY + timedelta(days=2, hours=5), 32.0),)
    await connector.close()


async def test_after_a_read_back_shows_the_write_gone_the_same_schedule_is_written_again(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    connector = await reader(sim, clock, tmp_path)
    schedule = hems((1, 2))
    await connector.apply_schedule(schedule)
    await connector.apply_schedule(schedule)
    assert len(sim.requests("PUT /api/smartChargingSchedules")) == 1  # unchanged: not rewritten

    sim.app_store_schedule("HALO1", 1, [(0, 3600, 6.0)])
    await connector.read_schedule()  # the app replaced it: the next apply must write again
    await connector.apply_schedule(schedule)
    assert len(sim.requests("PUT /api/smartChargingSchedules")) == 2
    assert (await connector.read_schedule()).periods == (Period(at(1), at(2), 10.0),)

    await connector.apply_schedule(schedule)
    assert len(sim.requests("PUT /api/smartChargingSchedules")) == 2
    sim.app_delete_schedule("HALO1", 1)
    await connector.read_schedule()
    await connector.clear_schedule()  # nothing held: no DELETE needed
    assert sim.requests("DELETE /api/smartChargingSchedules/{chargePointId}/{connectorId}") == []
    await connector.apply_schedule(schedule)
    assert len(sim.requests("PUT /api/smartChargingSchedules")) == 3
    await connector.close()


async def test_a_deleted_or_disabled_schedule_holds_nothing(sim: Simulator, clock: ManualClock, tmp_path: Path) -> None:
    connector = await reader(sim, clock, tmp_path)
    await connector.apply_schedule(hems((1, 2)))

    sim.app_delete_schedule("HALO1", 1)
    deleted = await connector.read_schedule()
    assert (deleted.periods, deleted.detail) == ((), "no schedule stored for this connector")

    stored = sim.app_store_schedule("HALO1", 1, [(0, 3600, 16.0)], is_active=False)
    disabled = await connector.read_schedule()
    assert disabled.periods == ()
    assert disabled.detail == f"schedule {stored.schedule_id} is stored but disabled (isActive false)"
    await connector.close()


async def test_another_connectors_schedule_is_not_this_ones(sim: Simulator, clock: ManualClock, tmp_path: Path) -> None:
    connector = await reader(sim, clock, tmp_path)
    sim.app_change_settings("HALO1", 1, mode="Schedule")  # a fresh connector is On: it would charge regardless
    sim.app_store_schedule("HALO1", 2, [(0, WEEK_S, 10.0)])
    assert (await connector.read_schedule()).periods == ()
    await connector.close()


async def test_default_current_between_periods_counts_as_running(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    connector = await reader(sim, clock, tmp_path)
    tuesday_noon = 86400 + 12 * 3600
    sim.app_store_schedule(
        "HALO1", 1, [(tuesday_noon, tuesday_noon + 3600, 0.0)], default_current_a=6.0, valid_to=at(4 * 24)
    )

    held = await connector.read_schedule()

    # Charging at 6 A from now to the end of validTo, paused from 12:00 to 13:00 today.
    assert held.periods == (Period(NOW, at(2), 6.0), Period(at(3), at(96), 6.0))
    assert held.detail is not None and "6 A between periods" in held.detail
    await connector.close()


async def test_the_connector_mode_overrides_the_schedule(sim: Simulator, clock: ManualClock, tmp_path: Path) -> None:
    connector = await reader(sim, clock, tmp_path)
    await connector.apply_schedule(hems((1, 2)))
    sim.app_change_settings("HALO1", 1, mode="Off")
    off = await connector.read_schedule()
    assert (off.periods, off.detail) == ((), "connector mode Off: does not charge")

    sim.app_change_settings("HALO1", 1, mode="On")
    await clock.advance(60)  # past the status reading's cache
    on = await connector.read_schedule()
    assert on.periods == (Period(at(0) + timedelta(minutes=1), at(7 * 24) + timedelta(minutes=1)),)
    await connector.close()


# --- malformed answers --------------------------------------------------------------------------------------------


async def test_a_reply_that_is_not_json_is_a_device_error(sim: Simulator, clock: ManualClock, tmp_path: Path) -> None:
    connector = await reader(sim, clock, tmp_path)
    sim.inject(SCHEDULES_ROUTE, Fault.MALFORMED_JSON)
    with pytest.raises(DeviceError, match="reply is not valid JSON") as caught:
        await connector.read_schedule()
    assert MALFORMED_JSON_BODY not in str(caught.value)
    await connector.close()


@pytest.mark.parametrize(
    ("periods", "reason"),
    [
        ([(700_000, 700_100, 16.0)], "is not within 0 <= from < to <= 604800"),
        ([(3600, 1800, 16.0)], "is not within 0 <= from < to <= 604800"),
        ([(0, 7200, 16.0), (3600, 9000, 10.0)], "weekly periods [0, 7200) and [3600, ...) overlap"),
        ([(0, 3600, -6.0)], "is not a non-negative number"),
    ],
)
async def test_a_stored_schedule_breaking_the_rules_is_a_device_error(
    sim: Simulator, clock: ManualClock, tmp_path: Path, periods: list[tuple[int, int, float]], reason: str
) -> None:
    connector = await reader(sim, clock, tmp_path)
    sim.app_store_schedule("HALO1", 1, periods)
    with pytest.raises(DeviceError, match="schedule stored for connector 1 of charge point HALO1 is malformed") as err:
        await connector.read_schedule()
    assert reason in str(err.value)
    assert not isinstance(err.value, DeviceUnavailableError)
    await connector.close()


async def test_two_schedules_for_one_connector_is_a_device_error(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    connector = await reader(sim, clock, tmp_path)
    stored = sim.app_store_schedule("HALO1", 1, [(0, 3600, 16.0)])
    sim.charge_point("HALO1").connectors[2].schedule = stored  # a cloud bug: connector 1's schedule listed twice
    with pytest.raises(DeviceError, match="2 schedules for connector 1"):
        await connector.read_schedule()
    await connector.close()


# --- weekly -> periods inverts periods -> weekly -------------------------------------------------------------------

ZONES = (AMS, ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe"), ZoneInfo("UTC"))


@st.composite
def asked(draw: st.DrawFn) -> tuple[ZoneInfo, datetime, Schedule]:
    """A zone, a whole-second now (DST weeks included) and up to 8 whole-second periods within the coming week."""
    tz = draw(st.sampled_from(ZONES))
    now = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=draw(st.integers(0, 4 * 365 * 86400)))
    cursor = now + timedelta(seconds=draw(st.integers(0, 86400)))
    periods: list[Period] = []
    for _ in range(draw(st.integers(1, 8))):
        start = cursor + timedelta(seconds=draw(st.integers(0, 24 * 3600)))
        end = start + timedelta(seconds=draw(st.integers(1, 24 * 3600)))
        if end > now + WEEK:
            break
        periods.append(Period(start.astimezone(tz), end.astimezone(tz), float(draw(st.integers(6, 32)))))
        cursor = end
    return tz, now, Schedule(periods=tuple(periods), source=ScheduleSource.HEMS)


@settings(max_examples=300, deadline=None)
@given(asked())
def test_reading_back_the_written_weekly_schedule_gives_the_asked_periods(
    case: tuple[ZoneInfo, datetime, Schedule],
) -> None:
    tz, now, schedule = case
    body = to_wire_body(
        to_weekly(schedule, now=now, tz=tz, default_current_a=16.0),
        charge_point_id="cp",
        connector_id=1,
        tz_name=tz.key,
    )
    stored = SmartChargingSchedule.model_validate(body)  # as the cloud would answer it
    weekly = from_stored(
        start_of_schedule=stored.start_of_schedule,
        periods=[(p.from_s, p.to_s, p.max_current_a) for p in stored.schedule_periods],
        valid_from=stored.valid_from,
        valid_to=stored.valid_to,
        default_current_a=stored.default_current_a,
    )
    held = tuple(Period(lo, hi, current_a) for lo, hi, current_a in following(weekly, now, now + WEEK))
    assert held == merge_periods(schedule.periods)
