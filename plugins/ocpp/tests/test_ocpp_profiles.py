"""The profile builder (schedule → SetChargingProfile), the simulator's profile evaluation, and meter values: pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from energy_agent.api import Period, Schedule, ScheduleSource
from energy_agent_ocpp.meter import read_meter_values
from energy_agent_ocpp.profiles import (
    CLOCK_MARGIN_S,
    ChargerLimits,
    Placement,
    ProfileDoesNotFit,
    Role,
    charging_profile,
    check_fits,
    fallback_chain,
    held_from_composite,
    hold,
    limit_schedule,
    wire_form,
)
from energy_agent_ocpp.simulator import InstalledProfile, ProfileStore

NOW = datetime(2026, 11, 25, 9, 0, 0, 400_000, tzinfo=UTC)
M = CLOCK_MARGIN_S


def at(seconds: float) -> datetime:
    """`seconds` after the whole second of NOW."""
    return NOW.replace(microsecond=0) + timedelta(seconds=seconds)


def schedule(
    *periods: tuple[float, float, float | None], expires_s: float | None, max_a: float | None = None
) -> Schedule:
    return Schedule(
        periods=tuple(Period(at(a), at(b), c) for a, b, c in periods),
        source=ScheduleSource.HEMS,
        max_current_a=max_a,
        expires_at=None if expires_s is None else at(expires_s),
    )


def test_a_schedule_holds_its_current_inside_periods_and_0_a_everywhere_else_until_expiry() -> None:
    plan = schedule((3600, 7200, None), (7200, 9000, 16), (10800, 14400, 8), expires_s=43200, max_a=10)
    limits = limit_schedule(plan, now=NOW, default_limit_a=16)
    assert limits.start == at(-M)  # a minute early, for a charger whose clock runs behind
    assert limits.periods == ((0, 0.0), (M + 3600, 10.0), (M + 7200, 16.0), (M + 9000, 0.0), (M + 10800, 8.0),
                              (M + 14400, 0.0))  # fmt: skip
    assert limits.duration_s == M + 43200
    assert limits.valid_to == at(43200)
    for second in range(0, 43200, 60):
        period = plan.active_at(at(second))
        wanted = 0.0 if period is None else plan.current_for(period) or 16
        assert limits.limit_at(at(second)) == wanted, second
    assert limits.limit_at(at(43200)) is None  # past validTo: the base profile below takes over


def test_a_running_period_starts_at_once_and_an_ended_one_is_left_out() -> None:
    plan = schedule((-7200, -3600, 6), (-300, 600, 12), expires_s=None)
    limits = limit_schedule(plan, now=NOW, default_limit_a=16)
    assert limits.periods == ((0, 12.0), (M + 600, 0.0))
    assert limits.duration_s is None and limits.valid_to is None  # no expiry: 0 A for ever after the last period


def test_edges_fall_on_whole_seconds_without_widening_a_period() -> None:
    plan = Schedule(
        periods=(Period(at(10.5), at(20.5), 9),),
        source=ScheduleSource.STANDALONE,
        expires_at=at(30.7),
    )
    limits = limit_schedule(plan, now=NOW, default_limit_a=16)
    assert limits.periods == ((0, 0.0), (M + 11, 9.0), (M + 20, 0.0))
    assert limits.duration_s == M + 30


def test_a_period_reaching_expires_at_needs_no_trailing_0_a_and_an_empty_schedule_holds_0_a() -> None:
    limits = limit_schedule(schedule((0, 3600, 16), expires_s=3600), now=NOW, default_limit_a=16)
    assert limits.periods == ((0, 0.0), (M, 16.0))
    assert limits.duration_s == M + 3600
    empty = limit_schedule(schedule(expires_s=600), now=NOW, default_limit_a=16)
    assert empty.periods == ((0, 0.0),)


def test_a_clear_holds_0_a_without_end() -> None:
    limits = hold(0.0, now=NOW)
    assert limits.periods == ((0, 0.0),) and limits.duration_s is None and limits.valid_to is None


def test_a_charger_whose_clock_runs_behind_is_never_without_a_limit() -> None:
    behind = NOW - timedelta(seconds=M - 1)
    assert hold(0.0, now=NOW).limit_at(behind) == 0.0
    assert limit_schedule(schedule((600, 1200, 16), expires_s=3600), now=NOW, default_limit_a=16).limit_at(behind) == 0


def test_the_wire_form_of_a_plan_on_the_connector() -> None:
    limits = limit_schedule(schedule((3600, 7200, None), expires_s=10800, max_a=10), now=NOW, default_limit_a=16)
    target, profile = charging_profile(
        limits, connector_id=1, role=Role.PLAN, stack_level=1, placement=Placement.CONNECTOR_DEFAULT
    )
    assert target == 1
    assert wire_form(profile) == {
        "chargingProfileId": 1002,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 0.0},
                {"startPeriod": 3660, "limit": 10.0},
                {"startPeriod": 7260, "limit": 0.0},
            ],
            "duration": 10860,
            "startSchedule": "2026-11-25T08:59:00Z",
        },
        "validTo": "2026-11-25T12:00:00Z",
    }


def test_placements_set_purpose_target_and_transaction() -> None:
    limits = hold(0.0, now=NOW)
    target, profile = charging_profile(
        limits, connector_id=2, role=Role.PLAN, stack_level=1, placement=Placement.TRANSACTION, transaction_id=77
    )
    assert (target, profile.charging_profile_purpose, profile.transaction_id) == (2, "TxProfile", 77)
    target, profile = charging_profile(
        limits, connector_id=2, role=Role.BASE, stack_level=0, placement=Placement.CHARGE_POINT_DEFAULT
    )
    assert (target, profile.charging_profile_id, profile.transaction_id) == (0, 2001, None)
    with pytest.raises(ValueError, match="transaction"):
        charging_profile(limits, connector_id=1, role=Role.PLAN, stack_level=1, placement=Placement.TRANSACTION)


def test_the_fallback_chain() -> None:
    assert fallback_chain(transaction_id=None, only_connector=False) == [Placement.CONNECTOR_DEFAULT]
    assert fallback_chain(transaction_id=5, only_connector=True) == [
        Placement.CONNECTOR_DEFAULT,
        Placement.TRANSACTION,
        Placement.CHARGE_POINT_DEFAULT,
    ]


def test_a_profile_that_does_not_fit_is_refused_with_the_reason() -> None:
    limits = limit_schedule(
        schedule((600, 1200, None), (1800, 2400, None), (3000, 3600, None), expires_s=7200),
        now=NOW,
        default_limit_a=16,
    )
    check_fits(limits, ChargerLimits(max_periods=7, max_stack_level=1), stack_level=1, periods_sent=3)
    with pytest.raises(ProfileDoesNotFit) as caught:
        check_fits(limits, ChargerLimits(max_periods=6), stack_level=1, periods_sent=3)
    assert str(caught.value) == (
        "the schedule needs 7 charging schedule periods (3 period(s) and the 0 A around them); the charger holds at "
        "most 6 (ChargingScheduleMaxPeriods): send fewer periods, or merge them"
    )
    with pytest.raises(ProfileDoesNotFit, match=r"stack level 1 .* at most 0 \(ChargeProfileMaxStackLevel\)"):
        check_fits(limits, ChargerLimits(max_stack_level=0), stack_level=1, periods_sent=3)
    with pytest.raises(ProfileDoesNotFit, match="watts only"):
        check_fits(limits, ChargerLimits(rate_units=frozenset({"Power"})), stack_level=1, periods_sent=3)
    with pytest.raises(ProfileDoesNotFit, match="does not support Smart Charging"):
        check_fits(limits, ChargerLimits(feature_profiles=frozenset({"Core"})), stack_level=1, periods_sent=3)


def test_a_composite_schedule_reads_back_as_held_periods() -> None:
    held = held_from_composite(
        {
            "start_schedule": "2026-11-25T09:00:00Z",
            "duration": 7200,
            "charging_rate_unit": "A",
            "charging_schedule_period": [
                {"start_period": 0, "limit": 0},
                {"start_period": 600, "limit": 10},
                {"start_period": 1200, "limit": 0},
            ],
        },
        read_at=NOW,
        valid_until=at(7200),
    )
    assert held.periods == (Period(at(600), at(1200), 10),)
    assert held.valid_until == at(7200)
    assert held.detail is not None and "10 A from 2026-11-25T09:10:00Z" in held.detail
    with pytest.raises(ValueError, match="not A"):
        held_from_composite({"charging_rate_unit": "W"}, read_at=NOW, valid_until=None)


# -- the simulator's evaluation of profiles --------------------------------------------------------


def installed(connector: int, profile: dict[str, Any]) -> InstalledProfile:
    return InstalledProfile.parse(connector, profile, NOW)


def profile(
    profile_id: int,
    stack: int,
    periods: list[tuple[int, float]],
    *,
    purpose: str = "TxDefaultProfile",
    kind: str = "Absolute",
    start: datetime | None = NOW,
    duration: int | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    transaction_id: int | None = None,
    recurrency: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "charging_profile_id": profile_id,
        "stack_level": stack,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": kind,
        "charging_schedule": {
            "charging_rate_unit": "A",
            "charging_schedule_period": [{"start_period": s, "limit": lim} for s, lim in periods],
        },
    }
    if start is not None:
        data["charging_schedule"]["start_schedule"] = start.isoformat()
    if duration is not None:
        data["charging_schedule"]["duration"] = duration
    for key, value in (("valid_from", valid_from), ("valid_to", valid_to)):
        if value is not None:
            data[key] = value.isoformat()
    if transaction_id is not None:
        data["transaction_id"] = transaction_id
    if recurrency is not None:
        data["recurrency_kind"] = recurrency
    return data


def limit(store: ProfileStore, when: datetime, **kwargs: Any) -> float | None:
    active = store.active(1, when, **kwargs)
    return None if active is None else active.limit


def test_the_highest_valid_stack_level_with_a_period_sets_the_limit() -> None:
    store = ProfileStore()
    store.install(installed(1, profile(1001, 0, [(0, 6)])))
    store.install(installed(1, profile(1002, 1, [(0, 0), (600, 16)], duration=1200, valid_to=NOW + timedelta(hours=1))))
    assert limit(store, NOW) == 0
    assert limit(store, NOW + timedelta(seconds=599)) == 0
    assert limit(store, NOW + timedelta(seconds=600)) == 16
    assert limit(store, NOW + timedelta(seconds=1200)) == 6  # the schedule ended: the level below applies
    store.install(installed(1, profile(1002, 1, [(0, 10)], valid_to=NOW + timedelta(seconds=30))))
    assert limit(store, NOW + timedelta(seconds=29)) == 10
    assert limit(store, NOW + timedelta(seconds=30)) == 6  # validTo passed
    assert store.edges(1, NOW, NOW + timedelta(hours=1), None) == [NOW + timedelta(seconds=30)]


def test_a_tx_profile_beats_tx_default_while_its_transaction_runs() -> None:
    store = ProfileStore()
    store.install(installed(1, profile(1002, 5, [(0, 0)])))
    store.install(installed(1, profile(7, 0, [(0, 13)], purpose="TxProfile", transaction_id=42)))
    assert limit(store, NOW, transaction_id=42) == 13
    assert limit(store, NOW, transaction_id=43) == 0
    store.end_transaction(1)
    assert limit(store, NOW, transaction_id=42) == 0


def test_connector_0_defaults_apply_and_a_charge_point_max_caps() -> None:
    store = ProfileStore()
    store.install(installed(0, profile(1, 0, [(0, 20)])))
    assert limit(store, NOW) == 20
    store.install(installed(1, profile(2, 0, [(0, 14)])))
    assert limit(store, NOW) == 14  # same stack level: the connector's own wins
    store.install(installed(0, profile(3, 0, [(0, 8)], purpose="ChargePointMaxProfile")))
    assert limit(store, NOW) == 8


def test_relative_and_recurring_schedules_and_valid_from() -> None:
    store = ProfileStore()
    store.install(installed(1, profile(1, 0, [(0, 6), (3600, 16)], kind="Relative", start=None)))
    assert limit(store, NOW) is None  # relative to a transaction that has not started
    assert limit(store, NOW + timedelta(hours=2), transaction_start=NOW) == 16
    store = ProfileStore()
    daily = profile(2, 0, [(0, 0), (3600, 11)], kind="Recurring", recurrency="Daily", valid_from=NOW)
    store.install(installed(1, daily))
    assert limit(store, NOW - timedelta(seconds=1)) is None
    assert limit(store, NOW + timedelta(days=3, minutes=30)) == 0
    assert limit(store, NOW + timedelta(days=3, hours=2)) == 11


def test_same_id_or_same_stack_and_purpose_replace_and_clear_matches_criteria() -> None:
    store = ProfileStore()
    store.install(installed(1, profile(1, 0, [(0, 6)])))
    store.install(installed(1, profile(2, 0, [(0, 7)])))  # same connector, stack, purpose: replaces 1
    store.install(installed(1, profile(2, 3, [(0, 8)])))  # same id: replaces the stack-0 one
    assert [(p.profile_id, p.stack_level) for p in store.profiles] == [(2, 3)]
    assert store.clear(purpose="TxProfile") == 0
    assert store.clear(connector_id=1) == 1


# -- meter values ----------------------------------------------------------------------------------


def sampled(*values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"timestamp": "2026-11-25T09:00:00Z", "sampled_value": list(values)}]


def test_meter_values_in_any_unit_and_phase() -> None:
    reading = read_meter_values(
        sampled(
            {"value": "12345"},  # default measurand and unit: the energy register in Wh
            {"value": "3.6", "measurand": "Power.Active.Import", "unit": "kW"},
        )
    )
    assert (reading.power_kw, reading.energy_kwh) == (3.6, 12.345)
    per_phase = read_meter_values(
        sampled(
            *(
                {"value": "2300", "measurand": "Power.Active.Import", "unit": "W", "phase": p}
                for p in ["L1", "L2", "L3"]
            )
        )
    )
    assert per_phase.power_kw == pytest.approx(6.9)
    from_current = read_meter_values(
        sampled(*({"value": "10", "measurand": "Current.Import", "unit": "A", "phase": p} for p in ("L1", "L2")))
    )
    assert from_current.power_kw == pytest.approx(4.6)
    junk = read_meter_values(
        sampled({"value": "lots"}, {"value": "1", "measurand": "Power.Active.Import", "unit": "hp"})
    )
    assert (junk.power_kw, junk.energy_kwh, junk.skipped) == (None, None, 2)
