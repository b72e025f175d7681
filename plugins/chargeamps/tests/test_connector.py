"""The Charge Amps device over real HTTP against the simulator: exact writes, idempotence, both strategies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from energy_agent.api import (
    ChargerState,
    ConfigError,
    DeviceAuthError,
    DeviceContext,
    DeviceUnavailableError,
    Period,
    Schedule,
    ScheduleSource,
)
from energy_agent.testing import ManualClock, NoMqtt, eventually
from energy_agent_chargeamps.account import ConnectorReading
from energy_agent_chargeamps.config import ChargeAmpsConfig
from energy_agent_chargeamps.connector import ChargeAmpsConnector, charger_state
from energy_agent_chargeamps.plugin import create_connectors
from energy_agent_chargeamps.simulator import Fault, FaultMode, Simulator

AMS = ZoneInfo("Europe/Amsterdam")
# Tuesday 2026-11-24 10:00 local
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=AMS)
EMAIL = "owner@example.com"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[Simulator]:
    simulator = Simulator(clock)
    simulator.add_account(email=EMAIL, password="pw-secret", api_key="key-secret")
    simulator.add_charge_point(email=EMAIL, product="HALO", charge_point_id="HALO1")
    simulator.plug_in_car("HALO1", connector_id=1, max_current_a=16.0, phases=3)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def context(clock: ManualClock, tmp_path: Path) -> DeviceContext:
    return DeviceContext(clock=clock, timezone=AMS, state_dir=tmp_path, mqtt=NoMqtt())


async def connectors(sim: Simulator, clock: ManualClock, tmp_path: Path, **config: Any) -> list[ChargeAmpsConnector]:
    settings = ChargeAmpsConfig(email=EMAIL, password="pw-secret", base_url=sim.base_url, **config)
    built = await create_connectors(settings, context(clock, tmp_path))
    for device in built:
        await device.start()
    return built


def hems_schedule(*spans: tuple[int, int], current: float | None = None, expires_h: int | None = None) -> Schedule:
    """Periods as (start hour, end hour) offsets from NOW."""
    return Schedule(
        periods=tuple(Period(NOW + timedelta(hours=a), NOW + timedelta(hours=b)) for a, b in spans),
        source=ScheduleSource.HEMS,
        max_current_a=current,
        expires_at=NOW + timedelta(hours=expires_h) if expires_h else None,
    )


async def test_schedule_write_has_the_exact_body_and_is_idempotent(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    (device,) = await connectors(sim, clock, tmp_path)
    schedule = hems_schedule((12, 14), (16, 17), current=10, expires_h=20)
    await device.apply_schedule(schedule)
    await device.apply_schedule(schedule)
    puts = sim.requests("PUT /api/smartChargingSchedules")
    assert len(puts) == 1
    # Monday 2026-11-23 00:00 Amsterdam = 2026-11-22T23:00Z; Tuesday 22:00 local = 1 day + 22 h from it
    assert puts[0].json_body == {
        "scheduleId": None,
        "chargePointId": "HALO1",
        "connectorId": 1,
        "validFrom": None,
        "validTo": "2026-11-25T05:00:00Z",
        "defaultCurrent": 0,
        "isActive": True,
        "isSynced": True,
        "timeZone": "Europe/Amsterdam",
        "startOfSchedule": "2026-11-22T23:00:00Z",
        "schedulePeriods": [
            {"from": 86400 + 22 * 3600, "to": 86400 + 24 * 3600, "maxCurrent": 10.0},
            {"from": 2 * 86400 + 2 * 3600, "to": 2 * 86400 + 3 * 3600, "maxCurrent": 10.0},
        ],
    }
    await device.close()


async def test_clearing_twice_deletes_once_and_empty_schedule_clears(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    (device,) = await connectors(sim, clock, tmp_path)
    await device.apply_schedule(hems_schedule((1, 2)))
    await device.clear_schedule()
    await device.clear_schedule()
    await device.apply_schedule(hems_schedule())
    deletes = sim.requests("DELETE /api/smartChargingSchedules/{chargePointId}/{connectorId}")
    assert len(deletes) == 1
    assert ("HALO1", 1) not in sim.schedules
    await device.close()


async def test_the_simulated_car_charges_exactly_in_the_written_period(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    (device,) = await connectors(sim, clock, tmp_path, poll_interval_s=60)
    await device.apply_schedule(hems_schedule((1, 2), current=16))
    await clock.advance(30 * 60)
    before = await device.read_status()
    assert before.state is ChargerState.PLUGGED_IN
    assert before.current_power_kw == 0
    await clock.advance(45 * 60)  # 11:15, inside 11:00-12:00
    during = await device.read_status()
    assert during.state is ChargerState.CHARGING
    assert during.current_power_kw == pytest.approx(11.04, abs=0.01)
    await clock.advance(60 * 60)  # 12:15, after the period
    after = await device.read_status()
    assert after.current_power_kw == 0
    assert after.session_energy_kwh == pytest.approx(11.04, abs=0.05)
    await device.close()


async def test_direct_control_switches_the_connector_at_boundaries(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    (device,) = await connectors(sim, clock, tmp_path, api="official", api_key="key-secret")
    await device.apply_schedule(hems_schedule((1, 2), current=8))
    assert sim.connector("HALO1", 1).mode == "Off"
    await clock.advance(3600)
    await eventually(lambda: sim.connector("HALO1", 1).mode == "On")
    assert sim.connector("HALO1", 1).max_current_a == 8
    await clock.advance(3600)
    await eventually(lambda: sim.connector("HALO1", 1).mode == "Off")
    settings_writes = [w for w in sim.writes() if w.route.endswith("/settings")]
    assert [w.json_body["mode"] for w in settings_writes] == ["Off", "On", "Off"]
    await device.close()


async def test_direct_control_keeps_the_owners_locks_across_switches(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    sim.app_change_settings("HALO1", 1, cable_lock=True, rfid_lock=True)
    (device,) = await connectors(sim, clock, tmp_path, api="official", api_key="key-secret")
    await device.apply_schedule(hems_schedule((1, 2), current=8))
    await clock.advance(3600)
    await eventually(lambda: sim.connector("HALO1", 1).mode == "On")
    await clock.advance(3600)
    await eventually(lambda: sim.connector("HALO1", 1).mode == "Off")
    connector = sim.connector("HALO1", 1)
    assert (connector.cable_lock, connector.rfid_lock) == (True, True)
    puts = [w.json_body for w in sim.writes() if w.route.endswith("/settings")]
    assert [(p["mode"], p["cableLock"], p["rfidLock"]) for p in puts] == [
        ("Off", True, True),
        ("On", True, True),
        ("Off", True, True),
    ]
    await device.close()


async def test_several_charge_points_need_distinct_topic_ids(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    sim.add_charge_point(email=EMAIL, product="AURA", charge_point_id="AURA1")
    with pytest.raises(ConfigError, match="would share the topic id '1'"):
        await connectors(sim, clock, tmp_path)
    built = await connectors(sim, clock, tmp_path, topic_ids={"AURA1/1": "aura-1"})
    assert sorted(d.topic_id for d in built) == ["1", "aura-1"]
    for device in built:
        await device.close()


async def test_two_connectors_share_one_login_and_one_status_call(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    sim.add_charge_point(email=EMAIL, product="AURA", charge_point_id="AURA1")
    built = await connectors(sim, clock, tmp_path, charge_point_id="AURA1", connector_ids=[1, 2])
    assert [d.topic_id for d in built] == ["1", "2"]
    for device in built:
        await device.read_status()
    assert len([r for r in sim.request_log if "/auth/" not in r.route]) == 1
    assert sim.logins(EMAIL) == 1
    for device in built:
        await device.close()


async def test_cloud_failures_become_device_errors_without_secrets(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    (device,) = await connectors(sim, clock, tmp_path)
    sim.inject("PUT /api/smartChargingSchedules", Fault.SERVER_ERROR, mode=FaultMode.ALWAYS)
    running = asyncio.ensure_future(device.apply_schedule(hems_schedule((1, 2))))
    while not running.done():
        await clock.advance(60)  # retry sleeps run on the injected clock
    with pytest.raises(DeviceUnavailableError) as unavailable:
        await running
    assert "pw-secret" not in str(unavailable.value)
    assert ("HALO1", 1) not in sim.schedules
    sim.clear_faults()
    wrong = ChargeAmpsConfig(email=EMAIL, password="wrong-secret", base_url=sim.base_url, charge_point_id="HALO1")
    (bad,) = await create_connectors(wrong, context(clock, tmp_path))
    await bad.start()
    with pytest.raises(DeviceAuthError) as auth:
        await bad.read_status()
    assert "wrong-secret" not in str(auth.value)
    await bad.close()
    await device.close()


async def test_refused_credentials_pause_cloud_calls_instead_of_logging_in_every_poll(
    sim: Simulator, clock: ManualClock, tmp_path: Path
) -> None:
    wrong = ChargeAmpsConfig(email=EMAIL, password="wrong-secret", base_url=sim.base_url, charge_point_id="HALO1")
    (device,) = await create_connectors(wrong, context(clock, tmp_path))
    await device.start()
    attempts = lambda: len(sim.requests("POST /api/auth/login"))  # noqa: E731
    for _ in range(5):  # five polls a minute apart
        with pytest.raises(DeviceAuthError):
            await device.read_status()
        await clock.advance(60)
    assert attempts() == 1
    await clock.advance(300)
    with pytest.raises(DeviceAuthError, match="refused"):
        await device.read_status()
    assert attempts() == 2
    await device.close()


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("Available", ChargerState.IDLE),
        ("Reserved", ChargerState.IDLE),
        ("Preparing", ChargerState.PLUGGED_IN),
        ("SuspendedEV", ChargerState.PLUGGED_IN),
        ("suspendedevse", ChargerState.PLUGGED_IN),
        ("Finishing", ChargerState.PLUGGED_IN),
        ("Occupied", ChargerState.PLUGGED_IN),
        ("Connected", ChargerState.PLUGGED_IN),
        ("Charging", ChargerState.CHARGING),
        ("Faulted", ChargerState.ERROR),
        ("Unavailable", ChargerState.ERROR),
        ("7", ChargerState.IDLE),
        (None, ChargerState.IDLE),
    ],
)
def test_cloud_status_words_map_to_the_contract_state(status: str | None, state: ChargerState) -> None:
    """OCPP's status words in any case, the cloud's own two, and anything else (a numeric code) as idle."""
    reading = ConnectorReading(online=True, status=status, is_charging=False, power_kw=0.0, total_energy_kwh=None)
    assert charger_state(reading) is state
