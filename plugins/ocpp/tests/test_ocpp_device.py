"""The connector device against simulated chargers over real websockets, on a ManualClock.

What the simulated charger applies, evaluated from the profiles it holds as a charger does, is compared with
the schedule second by second around every edge; time then moves on the clock and the car follows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from ocpp_harness import NOW, at, charge_point, edges, expected_limit, running_devices, section, simulated

from energy_agent.api import (
    ChargerState,
    Device,
    DeviceRejectedError,
    DeviceUnavailableError,
    Period,
    Schedule,
    ScheduleReader,
    ScheduleSource,
)
from energy_agent.testing import ManualClock, eventually, free_port
from energy_agent_ocpp.device import OcppConnector
from energy_agent_ocpp.profiles import Placement
from energy_agent_ocpp.simulator import Car, ChargerSimulator, Quirks


@dataclass
class Rig:
    """A started device, its simulated charger (with a car plugged in) and their shared clock."""

    device: OcppConnector
    charger: ChargerSimulator
    clock: ManualClock

    def profiles_sent(self) -> list[dict[str, Any]]:
        return self.charger.calls_of("SetChargingProfile")

    async def advance_to(self, seconds: float) -> None:
        """Move the clock to NOW + seconds and let the charger report what changed."""
        await self.clock.advance((at(seconds) - self.clock.now()).total_seconds())


@pytest.fixture
def quirks() -> Quirks:
    return Quirks()


@pytest.fixture
def ocpp_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
async def rig(quirks: Quirks, ocpp_overrides: dict[str, Any]) -> AsyncIterator[Rig]:
    clock = ManualClock(NOW)
    port = free_port()
    points = ocpp_overrides.pop("charge_points", None) or [charge_point()]
    async with (
        running_devices(clock, section(port, *points, **ocpp_overrides)) as devices,
        simulated(clock, port, quirks=quirks, connectors=(1, 2)) as charger,
    ):
        await charger.plug_in(1, Car(max_current_a=16))
        await charger.wait_connected()
        rig = Rig(devices[0], charger, clock)
        # set up: limits read, base profile written, then the charger asked for its status
        wanted = len(rig.device.charge_point.connectors)
        await eventually(lambda: len(rig.charger.calls_of("TriggerMessage")) == wanted)
        yield rig


def hems(*periods: tuple[float, float, float | None], expires_s: float | None = 6 * 3600, max_a: float | None = 10):
    return Schedule(
        periods=tuple(Period(at(a), at(b), c) for a, b, c in periods),
        source=ScheduleSource.HEMS,
        max_current_a=max_a,
        expires_at=None if expires_s is None else at(expires_s),
        command_id="c1",
    )


SCHEDULE = hems((600, 1800, None), (1800, 2700, 16), (3600, 5400, 6))


async def test_the_charger_applies_the_schedule_second_by_second_around_every_edge(rig: Rig) -> None:
    assert isinstance(rig.device, Device) and isinstance(rig.device, ScheduleReader)
    await rig.device.apply_schedule(SCHEDULE)
    plan = rig.profiles_sent()[-1]
    assert plan["charging_profile_purpose"] == "TxDefaultProfile" and plan["stack_level"] == 1
    assert plan["valid_to"] == "2026-11-25T15:00:00Z"
    moments = [NOW, *edges(SCHEDULE), at(12 * 3600)]
    for edge in moments:
        for second in range(-3, 4):
            when = edge + timedelta(seconds=second)
            if when < NOW:
                continue
            wanted = expected_limit(SCHEDULE, when, default_a=16, after_expiry_a=0.0)
            assert rig.charger.limit_at(1, when) == wanted, when
    # time moves: the car draws what the profile allows, the charger reports it, the device shows it
    for seconds, draw, state in [(599, 0, "plugged_in"), (600, 10, "charging"), (1800, 16, "charging"),
                                 (2700, 0, "plugged_in"), (3600, 6, "charging"), (5400, 0, "plugged_in"),
                                 (6 * 3600, 0, "plugged_in")]:  # fmt: skip
        await rig.advance_to(seconds)
        assert rig.charger.current_a(1) == draw, seconds
        await eventually(lambda s=state: _state(rig) == s)
    readings = rig.device.link.readings[1]
    assert readings.session_energy_kwh is not None and readings.session_energy_kwh > 0


def _state(rig: Rig) -> str:
    status = rig.device.link.readings[1].status
    return {"Charging": "charging", "SuspendedEVSE": "plugged_in", "Preparing": "plugged_in"}.get(status or "", "?")


async def test_status_power_and_energy_follow_the_charger(rig: Rig) -> None:
    await rig.device.apply_schedule(hems((0, 3600, 16), max_a=None))
    await eventually(lambda: rig.device.link.readings[1].status == "Charging")
    await rig.advance_to(1800)  # meter values every 30 s on the charger's clock (set by the agent)
    await eventually(lambda: (rig.device.link.readings[1].session_energy_kwh or 0) > 5)
    status = await rig.device.read_status()
    assert status.state is ChargerState.CHARGING and status.online
    assert status.current_power_kw == pytest.approx(16 * 230 * 3 / 1000)
    assert status.session_energy_kwh == pytest.approx(11.04 * 0.5, rel=0.05)
    assert status.total_energy_kwh == pytest.approx(status.session_energy_kwh)
    await rig.charger.unplug(1)
    await eventually(lambda: rig.device.link.readings[1].status == "Available")
    status = await rig.device.read_status()
    assert status.state is ChargerState.IDLE and status.current_power_kw == 0 and status.session_energy_kwh is None


async def test_a_clear_holds_0_a_for_ever(rig: Rig) -> None:
    await rig.device.apply_schedule(SCHEDULE)
    await rig.device.clear_schedule()
    plan = rig.profiles_sent()[-1]
    assert plan["charging_schedule"]["charging_schedule_period"] == [{"start_period": 0, "limit": 0.0}]
    assert "valid_to" not in plan and "duration" not in plan["charging_schedule"]
    for seconds in (0, 600, 2000, 6 * 3600, 30 * 86400):
        assert rig.charger.limit_at(1, at(seconds)) == 0.0


async def test_a_repeated_identical_schedule_sends_nothing(rig: Rig) -> None:
    await rig.device.apply_schedule(SCHEDULE)
    sent = len(rig.profiles_sent())
    await rig.advance_to(60)
    again = Schedule(SCHEDULE.periods, ScheduleSource.HEMS, SCHEDULE.max_current_a, SCHEDULE.expires_at, "c2")
    await rig.device.apply_schedule(again)
    await rig.device.clear_schedule()
    await rig.device.clear_schedule()
    assert len(rig.profiles_sent()) == sent + 1  # the second clear sent nothing either


@pytest.mark.parametrize("quirks", [Quirks(rejects_tx_default="Rejected"), Quirks(rejects_tx_default="NotSupported")])
async def test_without_a_transaction_a_refused_profile_is_an_error_with_the_chargers_answer(
    rig: Rig, quirks: Quirks
) -> None:
    await rig.charger.unplug(1)
    await eventually(lambda: rig.device.link.readings[1].transaction_id is None)
    with pytest.raises(DeviceRejectedError) as caught:
        await rig.device.apply_schedule(SCHEDULE)
    answer = quirks.rejects_tx_default
    assert str(caught.value) == (
        f"HALO-123456 connector 1 refused the charging profile (TxDefaultProfile on the connector: {answer}; "
        f"TxDefaultProfile on connector 0: {answer})"
    )
    assert rig.charger.profiles.profiles == []


@pytest.mark.parametrize("quirks", [Quirks(rejects_tx_default="Rejected")])
async def test_a_refused_tx_default_falls_back_to_a_tx_profile_renewed_for_each_transaction(
    rig: Rig, quirks: Quirks
) -> None:
    await rig.device.apply_schedule(SCHEDULE)
    assert rig.device.placement is Placement.TRANSACTION
    first = rig.charger.connectors[1].transaction_id
    assert rig.profiles_sent()[-1]["transaction_id"] == first
    for edge in edges(SCHEDULE)[:-1]:
        for second in (-1, 0, 1):
            when = edge + timedelta(seconds=second)
            assert rig.charger.limit_at(1, when) == expected_limit(SCHEDULE, when, default_a=16, after_expiry_a=0)
    await rig.charger.unplug(1)
    assert rig.charger.limit_at(1, at(700)) == 32  # the TxProfile went with the transaction: the rating applies
    await rig.charger.plug_in(1, Car())
    second_transaction = rig.charger.connectors[1].transaction_id
    assert second_transaction is not None and second_transaction != first
    await eventually(lambda: rig.profiles_sent()[-1].get("transaction_id") == second_transaction)
    assert rig.charger.limit_at(1, at(700)) == 10


@pytest.mark.parametrize("quirks", [Quirks(tx_default_only_on_connector_0=True)])
async def test_a_charger_that_takes_defaults_only_on_connector_0_gets_the_plan_there(rig: Rig, quirks: Quirks) -> None:
    await rig.charger.unplug(1)
    await rig.device.apply_schedule(SCHEDULE)
    assert rig.device.placement is Placement.CHARGE_POINT_DEFAULT
    assert rig.profiles_sent()[-1]["connector_id"] == 0
    assert rig.charger.limit_at(1, at(601)) == 10 and rig.charger.limit_at(1, at(599)) == 0


@pytest.mark.parametrize(
    ("quirks", "ocpp_overrides"),
    [(Quirks(tx_default_only_on_connector_0=True), {"charge_points": [charge_point(connectors=[1, 2])]})],
)
async def test_connector_0_is_not_used_when_the_agent_controls_other_connectors(
    rig: Rig, quirks: Quirks, ocpp_overrides: dict[str, Any]
) -> None:
    await rig.charger.unplug(1)
    with pytest.raises(DeviceRejectedError, match=r"\(TxDefaultProfile on the connector: Rejected\)$"):
        await rig.device.apply_schedule(SCHEDULE)


@pytest.mark.parametrize("quirks", [Quirks(max_periods=4)])
async def test_a_schedule_with_more_periods_than_the_charger_holds_is_refused_with_the_reason(
    rig: Rig, quirks: Quirks
) -> None:
    sent = len(rig.profiles_sent())
    with pytest.raises(DeviceRejectedError) as caught:
        await rig.device.apply_schedule(SCHEDULE)
    assert str(caught.value) == (
        "HALO-123456 connector 1 cannot hold this schedule: the schedule needs 6 charging schedule periods "
        "(3 period(s) and the 0 A around them); the charger holds at most 4 (ChargingScheduleMaxPeriods): "
        "send fewer periods, or merge them"
    )
    assert len(rig.profiles_sent()) == sent
    await rig.device.apply_schedule(hems((600, 1800, None)))  # 3 periods fit


@pytest.mark.parametrize("quirks", [Quirks(max_stack_level=0)])
async def test_a_charger_with_one_stack_level_refuses_a_plan_above_the_base(rig: Rig, quirks: Quirks) -> None:
    with pytest.raises(DeviceRejectedError, match=r"needs stack level 1 .* set ocpp.limit_after_expiry_a: null"):
        await rig.device.apply_schedule(SCHEDULE)


@pytest.mark.parametrize(("quirks", "ocpp_overrides"), [(Quirks(max_stack_level=0), {"limit_after_expiry_a": None})])
async def test_without_a_base_profile_the_plan_uses_level_0_and_the_charger_default_follows_expiry(
    rig: Rig, quirks: Quirks, ocpp_overrides: dict[str, Any]
) -> None:
    await rig.device.apply_schedule(SCHEDULE)
    assert [p["stack_level"] for p in rig.profiles_sent()] == [0]
    assert rig.charger.limit_at(1, at(6 * 3600 - 1)) == 0
    assert rig.charger.limit_at(1, at(6 * 3600)) == 32  # after validTo: the charger's own (its rating)


@pytest.mark.parametrize("ocpp_overrides", [{"limit_after_expiry_a": 6}])
async def test_the_limit_after_expiry_is_a_base_profile(rig: Rig, ocpp_overrides: dict[str, Any]) -> None:
    base = rig.profiles_sent()[0]
    assert (base["stack_level"], base["charging_profile_id"], "valid_to" in base) == (0, 1001, False)
    await rig.device.apply_schedule(SCHEDULE)
    assert rig.charger.limit_at(1, at(6 * 3600 - 1)) == 0
    assert rig.charger.limit_at(1, at(6 * 3600)) == 6
    assert rig.charger.limit_at(1, at(400 * 86400)) == 6


async def test_a_reconnecting_charger_gets_the_plan_in_force_again(rig: Rig) -> None:
    await rig.device.apply_schedule(SCHEDULE)
    sent = len(rig.profiles_sent())
    rig.charger.drop()
    await eventually(lambda: rig.charger.connections == 2 and len(rig.profiles_sent()) >= sent + 2)
    base, plan = rig.profiles_sent()[sent : sent + 2]
    assert (base["charging_profile_id"], plan["charging_profile_id"]) == (1001, 1002)
    assert plan["valid_to"] == "2026-11-25T15:00:00Z"
    assert rig.charger.limit_at(1, at(601)) == 10 and rig.charger.limit_at(1, at(2701)) == 0


async def test_while_the_charger_is_away_a_write_fails_and_the_plan_in_force_stays(rig: Rig) -> None:
    await rig.device.apply_schedule(SCHEDULE)
    await rig.charger.stop()
    await eventually(lambda: not rig.device.link.online)
    with pytest.raises(DeviceUnavailableError, match="HALO-123456 is not connected to the agent"):
        await rig.device.clear_schedule()
    assert rig.charger.limit_at(1, at(601)) == 10  # the charger keeps what it holds
    await rig.charger.start()
    await eventually(lambda: len(rig.profiles_sent()) >= 4)
    assert rig.profiles_sent()[-1]["valid_to"] == "2026-11-25T15:00:00Z"  # the plan, not the refused clear


async def test_a_plan_restored_after_an_agent_restart_reaches_the_charger_when_it_connects() -> None:
    clock = ManualClock(NOW)
    port = free_port()
    async with running_devices(clock, section(port)) as [device]:
        await device.restore_schedule(SCHEDULE)
        async with simulated(clock, port) as charger:
            await eventually(lambda: len(charger.calls_of("SetChargingProfile")) == 2)
            assert charger.limit_at(1, at(601)) == 10


@pytest.mark.parametrize("quirks", [Quirks(answer_delay_s=1.0)])
@pytest.mark.parametrize("ocpp_overrides", [{"response_timeout_s": 0.3}])
async def test_a_charger_that_answers_too_slowly_is_not_reported_as_accepting(
    quirks: Quirks, ocpp_overrides: dict[str, Any]
) -> None:
    clock = ManualClock(NOW)
    port = free_port()
    async with (
        running_devices(clock, section(port, **ocpp_overrides)) as [device],
        simulated(clock, port, quirks=quirks),
    ):
        await eventually(lambda: device.link.ready)  # after the set-up calls timed out
        with pytest.raises(DeviceUnavailableError, match=r"did not answer SetChargingProfile within 0.3 s"):
            await device.apply_schedule(SCHEDULE)


@pytest.mark.parametrize("quirks", [Quirks(drops_connection_on_profile=True)])
async def test_a_charger_that_drops_the_connection_instead_of_answering(quirks: Quirks) -> None:
    clock = ManualClock(NOW)
    port = free_port()
    async with (
        running_devices(clock, section(port, limit_after_expiry_a=None)) as [device],
        simulated(clock, port, quirks=quirks) as charger,
    ):
        await eventually(lambda: device.link.ready)
        with pytest.raises(DeviceUnavailableError, match="disconnected"):
            await device.apply_schedule(SCHEDULE)
        assert charger.profiles.profiles == []


async def test_read_back_reports_what_the_charger_will_do(rig: Rig) -> None:
    await rig.device.apply_schedule(SCHEDULE)
    held = await rig.device.read_schedule()
    assert held.periods == tuple(Period(p.start, p.end, SCHEDULE.current_for(p)) for p in SCHEDULE.periods)
    assert held.valid_until == SCHEDULE.expires_at
    rig.charger.quirks = Quirks(supports_composite_schedule=False)
    with pytest.raises(DeviceRejectedError, match="gave no composite schedule"):
        await rig.device.read_schedule()
