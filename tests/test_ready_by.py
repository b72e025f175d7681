"""The `ready-by` policy on hand-worked examples: the rule, the shortfall, the explanation, the registration."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from energy_agent.api.domain import Period, PriceCurve, PriceSlot
from energy_agent.api.planning import EnergySummary, Plan, PlanRequest
from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.standalone.ready_by import POLICY, plan

AMS = ZoneInfo("Europe/Amsterdam")
HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)
EVENING = datetime(2026, 11, 25, 22, tzinfo=AMS)


def curve_of(start: datetime, prices: Sequence[float], step: timedelta = HOUR) -> PriceCurve:
    begin = start.astimezone(UTC)
    return PriceCurve(
        tuple(PriceSlot(begin + i * step, begin + (i + 1) * step, price) for i, price in enumerate(prices))
    )


def ready_by(
    curve: PriceCurve,
    *,
    now: datetime,
    until: datetime,
    energy_kwh: float,
    power_kw: float,
    cap: float | None = 0.25,
    max_current_a: float | None = None,
) -> Plan:
    return plan(
        PlanRequest(
            prices=curve, now=now, timezone=AMS, price_threshold_eur_kwh=cap, top_x_charge_count=16,
            max_current_a=max_current_a, ready_by=until, energy_needed_kwh=energy_kwh, power_kw=power_kw,
        )
    )  # fmt: skip


def statuses(result: Plan) -> list[tuple[str, int | None]]:
    return [(slot["status"], slot["rank"]) for day in result.explanation["days"] for slot in day["slots"]]


def local(result: Plan) -> list[tuple[str, str]]:
    return [
        (p.start.astimezone(AMS).strftime("%H:%M"), p.end.astimezone(AMS).strftime("%H:%M")) for p in result.periods
    ]


# 22:00 … 06:00, hourly: the owner's "22 kWh by 07:00, never above 0.25 EUR/kWh" at 11 kW
NIGHT = [0.30, 0.20, 0.10, 0.10, 0.15, 0.26, 0.12, 0.40, 0.08]


def test_22_kwh_at_11_kw_takes_the_two_cheapest_hours_under_the_cap() -> None:
    result = ready_by(
        curve_of(EVENING, NIGHT), now=EVENING, until=datetime(2026, 11, 26, 6, tzinfo=AMS), energy_kwh=22, power_kw=11
    )

    assert local(result) == [("00:00", "02:00")]
    assert result.energy == EnergySummary(22, 22.0, 0.0, 2.2, datetime(2026, 11, 26, 5, tzinfo=UTC), 11)
    assert statuses(result) == [
        ("above_threshold", None), ("not_needed", None), ("selected", 1), ("selected", 2), ("not_needed", None),
        ("above_threshold", None), ("not_needed", None), ("above_threshold", None), ("outside_window", None),
    ]  # fmt: skip
    assert result.warnings == ()
    assert result.threshold_active and not result.no_eligible_slots


def test_the_last_part_runs_from_its_start_for_whole_minutes_rounded_up() -> None:
    # 25 kWh: 22 in the two 0.10 hours, 3 kWh left = 16.36 minutes of the 0.12 hour at 04:00 → 17 minutes
    result = ready_by(
        curve_of(EVENING, NIGHT), now=EVENING, until=datetime(2026, 11, 26, 6, tzinfo=AMS), energy_kwh=25, power_kw=11
    )

    assert local(result) == [("00:00", "02:00"), ("04:00", "04:17")]
    assert result.energy is not None
    assert result.energy.energy_planned_kwh == pytest.approx(22 + 11 * 17 / 60)  # 25.1167
    assert result.energy.cost_eur == pytest.approx(22 * 0.10 + 11 * 17 / 60 * 0.12)  # 2.574
    assert result.energy.energy_missing_kwh == 0
    assert statuses(result)[6] == ("selected", 3)


def test_exact_decimal_arithmetic_does_not_round_up_a_whole_minute() -> None:
    # 1.1 kWh at 6.6 kW is exactly 10 minutes; in binary floats 1.1 / 6.6 * 60 is 10.000000000000002
    result = ready_by(
        curve_of(EVENING, [0.1]), now=EVENING, until=EVENING + HOUR, energy_kwh=1.1, power_kw=6.6, cap=None
    )

    assert local(result) == [("22:00", "22:10")]


def test_equal_prices_go_to_the_earlier_part() -> None:
    result = ready_by(
        curve_of(EVENING, [0.2, 0.1, 0.2, 0.1, 0.1], QUARTER),
        now=EVENING, until=EVENING + 2 * HOUR, energy_kwh=2, power_kw=4, cap=None,
    )  # fmt: skip

    # 2 kWh at 4 kW = 30 minutes: the 0.1 quarters at 22:15 and 22:45; the one at 23:00 is not needed
    assert local(result) == [("22:15", "22:30"), ("22:45", "23:00")]
    assert statuses(result) == [
        ("not_needed", None), ("selected", 1), ("not_needed", None), ("selected", 2), ("not_needed", None),
    ]  # fmt: skip


def test_only_the_part_inside_the_window_counts() -> None:
    # now 22:30 cuts the first hour to 30 minutes; the departure 01:20 cuts the last to 20 minutes
    result = ready_by(
        curve_of(EVENING, [0.1, 0.3, 0.2, 0.05]),
        now=datetime(2026, 11, 25, 22, 30, tzinfo=AMS), until=datetime(2026, 11, 26, 1, 20, tzinfo=AMS),
        energy_kwh=10, power_kw=6, cap=None,
    )  # fmt: skip

    # 0.05 × 20 min (2 kWh), 0.1 × 30 min (3 kWh), then 5 kWh of the 0.2 hour = 50 minutes
    assert local(result) == [("22:30", "23:00"), ("00:00", "00:50"), ("01:00", "01:20")]
    assert result.energy is not None
    assert result.energy.cost_eur == pytest.approx(2 * 0.05 + 3 * 0.1 + 5 * 0.2)
    day = result.explanation["days"][1]
    assert [slot["energy_kwh"] for slot in day["slots"]] == [5.0, 2.0]


def test_negative_prices_are_the_cheapest() -> None:
    result = ready_by(
        curve_of(EVENING, [0.05, -0.02, 0.0]), now=EVENING, until=EVENING + 3 * HOUR, energy_kwh=5, power_kw=5
    )

    assert local(result) == [("23:00", "00:00")]
    assert result.energy is not None and result.energy.cost_eur == pytest.approx(-0.1)


def test_short_under_the_cap_uses_everything_eligible_and_says_so() -> None:
    # under the cap: 0.20, 0.10, 0.10, 0.15, 0.12 = 5 hours = 55 kWh of the 60 needed
    result = ready_by(
        curve_of(EVENING, NIGHT), now=EVENING, until=datetime(2026, 11, 26, 6, tzinfo=AMS), energy_kwh=60, power_kw=11
    )

    assert local(result) == [("23:00", "03:00"), ("04:00", "05:00")]
    assert result.energy is not None
    assert result.energy.energy_planned_kwh == 55
    assert result.energy.energy_missing_kwh == 5
    assert result.warnings == (
        "5.000 kWh of the 60 kWh needed by 2026-11-26T06:00+01:00 cannot be planned: "
        "slots above the 0.25 EUR/kWh cap are not used",
    )
    assert all(p.start >= EVENING for p in result.periods)


def test_a_cap_that_leaves_nothing_plans_nothing() -> None:
    result = ready_by(
        curve_of(EVENING, [0.3, 0.4]), now=EVENING, until=EVENING + 2 * HOUR, energy_kwh=5, power_kw=11, cap=0.25
    )

    assert result.periods == ()
    assert result.no_eligible_slots and result.threshold_active
    assert result.energy is not None and result.energy.energy_missing_kwh == 5
    assert "cap are not used" in result.warnings[0]
    assert result.explanation["days"][0]["no_eligible_slots"]


def test_prices_ending_before_the_departure_are_named_in_the_warning() -> None:
    result = ready_by(
        curve_of(EVENING, [0.1]), now=EVENING, until=datetime(2026, 11, 26, 7, tzinfo=AMS), energy_kwh=20, power_kw=11
    )

    assert result.energy is not None and result.energy.energy_missing_kwh == 9
    assert result.warnings[0].endswith("cannot be planned: prices are known only until 2026-11-25T23:00+01:00")


def test_a_departure_not_after_now_plans_nothing() -> None:
    result = ready_by(curve_of(EVENING, [0.1]), now=EVENING, until=EVENING, energy_kwh=3, power_kw=11)

    assert result.periods == ()
    assert statuses(result) == [("outside_window", None)]
    assert "the departure is not after now" in result.warnings[0]
    assert not result.no_eligible_slots


def test_nothing_needed_plans_nothing_and_warns_of_nothing() -> None:
    result = ready_by(curve_of(EVENING, [0.1, 0.3]), now=EVENING, until=EVENING + 2 * HOUR, energy_kwh=0, power_kw=11)

    assert result.periods == ()
    assert statuses(result) == [("not_needed", None), ("above_threshold", None)]
    assert result.warnings == ()


def test_periods_carry_the_current_and_touching_parts_merge_across_midnight() -> None:
    result = ready_by(
        curve_of(EVENING, [0.1, 0.1, 0.1]), now=EVENING, until=EVENING + 3 * HOUR, energy_kwh=33, power_kw=11,
        max_current_a=16,
    )  # fmt: skip

    assert result.periods == (Period(EVENING, EVENING + 3 * HOUR, 16),)
    # per day, the explanation splits the run at midnight
    assert [len(day["periods"]) for day in result.explanation["days"]] == [1, 1]


def test_days_follow_the_local_calendar_on_a_25_hour_day() -> None:
    autumn = datetime(2026, 10, 25, tzinfo=AMS)
    curve = curve_of(autumn, [0.2] * 100, QUARTER)
    result = ready_by(curve, now=autumn, until=autumn + 25 * HOUR, energy_kwh=1, power_kw=4)

    days = result.explanation["days"]
    assert [(day["date"], len(day["slots"])) for day in days] == [("2026-10-25", 100)]
    assert days[0]["levels"] == []
    assert set(days[0]) == {
        "date", "threshold_active", "excluded_by_threshold", "no_eligible_slots", "levels", "slots", "periods",
    }  # fmt: skip
    json.dumps(dict(result.explanation))  # JSON-ready


def test_missing_inputs_give_an_empty_plan_that_names_them() -> None:
    request = PlanRequest(curve_of(EVENING, [0.1]), EVENING, AMS, 0.25, 16, ready_by=EVENING + HOUR)

    result = plan(request)

    assert result.periods == () and result.energy is None
    assert result.warnings == ("ready-by plan needs energy_needed_kwh, power_kw: not charging",)


@pytest.mark.parametrize(
    ("energy_kwh", "power_kw", "cap", "message"),
    [
        (5, 0, None, "power_kw must be a positive number, got 0"),
        (5, float("inf"), None, "power_kw must be a positive number"),
        (-1, 11, None, "energy_needed_kwh must be a number at or above 0, got -1"),
        (float("nan"), 11, None, "energy_needed_kwh must be a number at or above 0"),
        (5, 11, float("nan"), "price_threshold_eur_kwh must be finite"),
    ],
)
def test_bad_inputs_are_refused(energy_kwh: float, power_kw: float, cap: float | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ready_by(
            curve_of(EVENING, [0.1]), now=EVENING, until=EVENING + HOUR, energy_kwh=energy_kwh, power_kw=power_kw,
            cap=cap,
        )  # fmt: skip


def test_the_core_registers_ready_by_beside_the_default() -> None:
    policies = collect(get_plugin_manager()).policies

    assert policies["ready-by"] is POLICY
    assert "unique-price-levels" in policies


def test_the_energy_summary_json() -> None:
    summary = EnergySummary(22, 22.0166666, 0.0, 2.7241234, datetime(2026, 11, 26, 6, tzinfo=UTC), 11)

    assert summary.to_json(AMS) == {
        "needed_kwh": 22, "planned_kwh": 22.017, "missing_kwh": 0.0, "cost_eur": 2.7241,
        "ready_by": "2026-11-26T07:00:00+01:00",
    }  # fmt: skip
    with pytest.raises(ValueError, match="ready_by must carry a UTC offset"):
        EnergySummary(1, 1, 0, 0, datetime(2026, 11, 26, 6), 11)
