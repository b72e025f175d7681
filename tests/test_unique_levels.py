"""The standalone selection: X lowest unique price levels under the cap, per local day, with explanations."""

from __future__ import annotations

import json
import time as wall_time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_agent.api.domain import Period, PriceCurve, PriceSlot, merge_periods
from energy_agent.api.planning import PlanRequest, SlotStatus, StandalonePolicy
from energy_agent.standalone.report import plan_json
from energy_agent.standalone.unique_levels import (
    POLICY,
    DayPlan,
    SlotExplanation,
    plan,
    price_level,
    select_slots,
)

AMS = ZoneInfo("Europe/Amsterdam")
QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)


def curve_of(start: datetime, prices: Sequence[float], step: timedelta = QUARTER) -> PriceCurve:
    """Back-to-back slots from `start`, stepped in UTC (so DST days get 92 or 100 quarter hours)."""
    begin = start.astimezone(UTC)
    return PriceCurve(
        tuple(PriceSlot(begin + index * step, begin + (index + 1) * step, price) for index, price in enumerate(prices))
    )


def verdicts(day: DayPlan) -> list[tuple[SlotStatus, int | None]]:
    return [(item.status, item.rank) for item in day.slots]


def one_day(curve: PriceCurve, threshold: float | None, top_x: int, tz: tzinfo = AMS) -> DayPlan:
    days = select_slots(curve, tz=tz, price_threshold_eur_kwh=threshold, top_x_charge_count=top_x)
    assert len(days) == 1
    return days[0]


S = SlotStatus.SELECTED
N = SlotStatus.NOT_IN_TOP_X
A = SlotStatus.ABOVE_THRESHOLD
NIGHT = datetime(2026, 11, 25, 2, 0, tzinfo=AMS)


def test_every_slot_at_a_chosen_level_is_selected_not_just_x_slots() -> None:
    day = one_day(curve_of(NIGHT, [0.10, 0.12, 0.10, 0.15, 0.12, 0.20]), threshold=0.25, top_x=2)

    assert verdicts(day) == [(S, 1), (S, 2), (S, 1), (N, None), (S, 2), (N, None)]
    assert day.levels_eur_kwh == (0.10, 0.12)
    # slots 0-2 touch, slot 4 stands alone
    assert day.periods == (
        Period(NIGHT, NIGHT + 3 * QUARTER),
        Period(NIGHT + 4 * QUARTER, NIGHT + 5 * QUARTER),
    )


def test_prices_that_round_to_the_same_four_decimals_are_one_level() -> None:
    day = one_day(curve_of(NIGHT, [0.11005, 0.1101, 0.110149, 0.11015, 0.1102]), threshold=None, top_x=1)

    assert verdicts(day) == [(S, 1), (S, 1), (S, 1), (N, None), (N, None)]
    assert day.levels_eur_kwh == (0.1101,)


@pytest.mark.parametrize(
    ("price", "level"),
    [
        (0.11005, "0.1101"),  # round() would give 0.11: the binary float is just below the half
        (0.11004999, "0.1100"),
        (-0.11005, "-0.1101"),  # half-up rounds away from zero
        (-0.0, "0.0000"),
        (0.00004, "0.0000"),
        (1e300, "1" + "0" * 300 + ".0000"),
    ],
)
def test_price_level_rounds_the_repr_half_up(price: float, level: str) -> None:
    assert price_level(price) == Decimal(level)
    assert str(price_level(price)) == level


def test_a_price_exactly_at_the_cap_is_eligible_and_one_cent_fraction_above_is_not() -> None:
    day = one_day(curve_of(NIGHT, [0.25, 0.2500001, 0.30, 0.24]), threshold=0.25, top_x=10)

    assert verdicts(day) == [(S, 2), (A, None), (A, None), (S, 1)]
    assert day.excluded_by_threshold == 2
    assert day.threshold_active
    assert not day.no_eligible_slots


def test_without_a_cap_the_lowest_levels_are_chosen_however_expensive() -> None:
    day = one_day(curve_of(NIGHT, [0.90, 0.80, 0.95, 0.80]), threshold=None, top_x=1)

    assert verdicts(day) == [(N, None), (S, 1), (N, None), (S, 1)]
    assert day.excluded_by_threshold == 0
    assert not day.threshold_active
    assert not day.no_eligible_slots


def test_a_cap_that_excludes_nothing_is_not_active() -> None:
    day = one_day(curve_of(NIGHT, [0.10, 0.20]), threshold=0.25, top_x=1)

    assert not day.threshold_active
    assert verdicts(day) == [(S, 1), (N, None)]


def test_everything_above_the_cap_selects_nothing_and_plan_warns() -> None:
    curve = curve_of(datetime(2026, 11, 25, tzinfo=AMS), [0.30, 0.31, 0.30] + [0.40] * 93)
    day = one_day(curve, threshold=0.25, top_x=16)

    assert day.no_eligible_slots
    assert day.threshold_active
    assert day.excluded_by_threshold == 96
    assert day.levels_eur_kwh == ()
    assert day.periods == ()
    assert {item.status for item in day.slots} == {A}

    result = plan(PlanRequest(curve, datetime(2026, 11, 25, 9, tzinfo=AMS), AMS, 0.25, 16, max_current_a=16))
    assert result.periods == ()
    assert result.no_eligible_slots
    assert result.threshold_active
    assert result.warnings == ("no slot at or below the 0.25 EUR/kWh cap on 2026-11-25: not charging that day",)


def test_x_larger_than_the_number_of_levels_selects_every_eligible_slot() -> None:
    day = one_day(curve_of(NIGHT, [0.20, 0.10, 0.30, 0.10, 0.20]), threshold=0.25, top_x=16)

    assert verdicts(day) == [(S, 2), (S, 1), (A, None), (S, 1), (S, 2)]
    assert day.levels_eur_kwh == (0.10, 0.20)


def test_x_zero_selects_nothing_and_bad_arguments_are_refused() -> None:
    curve = curve_of(NIGHT, [0.10, 0.20])
    assert verdicts(one_day(curve, threshold=None, top_x=0)) == [(N, None), (N, None)]
    with pytest.raises(ValueError, match="top_x_charge_count"):
        select_slots(curve, tz=AMS, price_threshold_eur_kwh=None, top_x_charge_count=-1)
    with pytest.raises(ValueError, match="finite"):
        select_slots(curve, tz=AMS, price_threshold_eur_kwh=float("nan"), top_x_charge_count=1)


def test_negative_prices_are_the_cheapest_levels_and_minus_zero_is_zero() -> None:
    day = one_day(curve_of(NIGHT, [0.02, -0.05, 0.0, -0.01, -0.0, -0.05]), threshold=0.25, top_x=3)

    assert verdicts(day) == [(N, None), (S, 1), (S, 3), (S, 2), (S, 3), (S, 1)]
    assert day.levels_eur_kwh == (-0.05, -0.01, 0.0)
    assert json.dumps(plan_days(day)[0]["levels"]) == "[-0.05, -0.01, 0.0]"


def test_hourly_slots() -> None:
    prices = [0.20, 0.18, 0.15, 0.15, 0.16, 0.22] + [0.30] * 18
    day = one_day(curve_of(datetime(2026, 11, 25, tzinfo=AMS), prices, HOUR), threshold=0.25, top_x=2)

    assert len(day.slots) == 24
    midnight = datetime(2026, 11, 25, tzinfo=AMS)
    assert day.periods == (Period(midnight + 2 * HOUR, midnight + 5 * HOUR),)
    assert day.excluded_by_threshold == 18


def test_mixed_slot_lengths_merge_when_they_touch() -> None:
    start = datetime(2026, 11, 25, 1, tzinfo=AMS)
    hourly = [PriceSlot(start, start + HOUR, 0.10)]
    quarters = [
        PriceSlot(start + HOUR + index * QUARTER, start + HOUR + (index + 1) * QUARTER, price)
        for index, price in enumerate([0.10, 0.12, 0.10, 0.30])
    ]
    day = one_day(PriceCurve.from_slots(hourly + quarters), threshold=0.25, top_x=1)

    assert verdicts(day) == [(S, 1), (S, 1), (N, None), (S, 1), (A, None)]
    assert day.periods == (
        Period(start, start + HOUR + QUARTER),
        Period(start + HOUR + 2 * QUARTER, start + HOUR + 3 * QUARTER),
    )


def test_a_gap_splits_periods_even_between_consecutive_selected_slots() -> None:
    first = PriceSlot(NIGHT, NIGHT + QUARTER, 0.10)
    after_gap = PriceSlot(NIGHT + 2 * QUARTER, NIGHT + 3 * QUARTER, 0.10)
    touching = PriceSlot(NIGHT + 3 * QUARTER, NIGHT + 4 * QUARTER, 0.10)
    day = one_day(PriceCurve((first, after_gap, touching)), threshold=None, top_x=1)

    assert day.periods == (Period(first.start, first.end), Period(after_gap.start, touching.end))


def test_spring_dst_day_has_92_quarter_hours_in_its_own_offsets() -> None:
    midnight = datetime(2026, 3, 29, tzinfo=AMS)
    curve = curve_of(midnight - timedelta(hours=2), [0.20] * (8 + 92 + 8))
    days = select_slots(curve, tz=AMS, price_threshold_eur_kwh=0.25, top_x_charge_count=1)

    assert [(day.date, len(day.prices)) for day in days] == [
        (date(2026, 3, 28), 8),
        (date(2026, 3, 29), 92),
        (date(2026, 3, 30), 8),
    ]
    slots = plan_days(days[1])[0]["slots"]
    assert slots[0]["start"] == "2026-03-29T00:00:00+01:00"
    assert slots[7]["end"] == "2026-03-29T03:00:00+02:00"
    assert slots[-1]["end"] == "2026-03-30T00:00:00+02:00"
    # one flat price: the whole day is one period, from midnight to midnight (23 h)
    assert days[1].periods[0].duration_s == 23 * 3600


def test_autumn_dst_day_has_100_quarter_hours_and_the_repeated_hour_stays_apart() -> None:
    midnight = datetime(2026, 10, 25, tzinfo=AMS)
    prices = [0.30] * 100
    prices[7] = 0.10  # 01:45+02:00, the last quarter before the repeated hour
    prices[12] = 0.10  # 02:00+01:00, the first quarter of the repeated hour's second pass
    curve = curve_of(midnight, prices)
    day = one_day(curve, threshold=None, top_x=1)

    assert day.date == date(2026, 10, 25)
    assert len(day.prices) == 100
    # the two slots are an hour apart, though their wall-clock times touch at 02:00
    utc_midnight = midnight.astimezone(UTC)  # step in UTC: wall-clock arithmetic would skip the repeated hour
    assert day.periods == (
        Period(utc_midnight + 7 * QUARTER, utc_midnight + 8 * QUARTER),
        Period(utc_midnight + 12 * QUARTER, utc_midnight + 13 * QUARTER),
    )
    periods = plan_days(day)[0]["periods"]
    assert periods == [
        {"start": "2026-10-25T01:45:00+02:00", "end": "2026-10-25T02:00:00+02:00"},
        {"start": "2026-10-25T02:00:00+01:00", "end": "2026-10-25T02:15:00+01:00"},
    ]


def test_slots_belong_to_the_local_day_of_their_start() -> None:
    # 23:00 UTC is already tomorrow in Amsterdam
    curve = curve_of(datetime(2026, 11, 24, 22, tzinfo=UTC), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], QUARTER)
    days = select_slots(curve, tz=AMS, price_threshold_eur_kwh=None, top_x_charge_count=1)

    assert [(day.date, len(day.prices)) for day in days] == [(date(2026, 11, 24), 4), (date(2026, 11, 25), 4)]
    assert [day.levels_eur_kwh for day in days] == [(0.1,), (0.5,)]


def two_days() -> PriceCurve:
    night = [0.12] * 8 + [0.14] * 8
    return curve_of(datetime(2026, 11, 25, tzinfo=AMS), [0.30] * 80 + night + night + [0.30] * 80)


def test_the_plan_of_a_day_does_not_drift_as_the_day_passes() -> None:
    curve = two_days()
    early = plan(PlanRequest(curve, datetime(2026, 11, 25, 0, 5, tzinfo=AMS), AMS, 0.25, 1))
    late = plan(PlanRequest(curve, datetime(2026, 11, 25, 23, 50, tzinfo=AMS), AMS, 0.25, 1))

    assert early.periods == late.periods
    assert early.explanation == late.explanation


def test_plan_merges_periods_across_midnight_with_the_current_limit() -> None:
    result = plan(PlanRequest(two_days(), datetime(2026, 11, 25, 12, tzinfo=AMS), AMS, 0.25, 1, max_current_a=10))

    # 20:00-22:00 on the 25th (level 0.12), then 00:00-02:00 on the 26th: the 22:00-24:00 slots are 0.14
    assert result.periods == (
        Period(datetime(2026, 11, 25, 20, tzinfo=AMS), datetime(2026, 11, 25, 22, tzinfo=AMS), 10),
        Period(datetime(2026, 11, 26, 0, tzinfo=AMS), datetime(2026, 11, 26, 2, tzinfo=AMS), 10),
    )
    two = plan(PlanRequest(two_days(), datetime(2026, 11, 25, 12, tzinfo=AMS), AMS, 0.25, 2, max_current_a=10))
    assert two.periods == (Period(datetime(2026, 11, 25, 20, tzinfo=AMS), datetime(2026, 11, 26, 4, tzinfo=AMS), 10),)
    assert two.threshold_active
    assert not two.no_eligible_slots
    assert two.warnings == ()


def test_plan_flags_describe_the_day_containing_now() -> None:
    cheap_day = [0.10] * 96
    expensive_day = [0.40] * 96
    curve = curve_of(datetime(2026, 11, 25, tzinfo=AMS), cheap_day + expensive_day)

    today = plan(PlanRequest(curve, datetime(2026, 11, 25, 18, tzinfo=AMS), AMS, 0.25, 4))
    assert (today.threshold_active, today.no_eligible_slots) == (False, False)
    assert today.warnings == ("no slot at or below the 0.25 EUR/kWh cap on 2026-11-26: not charging that day",)

    tomorrow = plan(PlanRequest(curve, datetime(2026, 11, 26, 1, tzinfo=AMS), AMS, 0.25, 4))
    assert (tomorrow.threshold_active, tomorrow.no_eligible_slots) == (True, True)

    # a day without prices: nothing to say about it, and the ended expensive day no longer warns
    later = plan(PlanRequest(curve, datetime(2026, 11, 28, 1, tzinfo=AMS), AMS, 0.25, 4))
    assert (later.threshold_active, later.no_eligible_slots, later.warnings) == (False, False, ())
    assert later.periods == today.periods  # ended periods stay: the caller filters them


def test_an_empty_curve_plans_nothing() -> None:
    result = plan(PlanRequest(PriceCurve(()), datetime(2026, 11, 25, tzinfo=AMS), AMS, 0.25, 16))

    assert result.periods == ()
    assert result.explanation["days"] == []
    assert not result.no_eligible_slots


def plan_days(*days: DayPlan) -> list[dict[str, Any]]:
    """The JSON days via the policy, as the CLI gets them."""
    curve = PriceCurve(tuple(slot for day in days for slot in day.prices))
    tz = days[0].timezone
    assert isinstance(tz, ZoneInfo)
    threshold = days[0].price_threshold_eur_kwh
    top_x = len(days[0].levels_eur_kwh)
    result = plan(PlanRequest(curve, datetime(2026, 1, 1, tzinfo=UTC), tz, threshold, top_x))
    return json.loads(json.dumps(result.explanation["days"]))  # type: ignore[no-any-return]


def test_explanation_json_shape() -> None:
    # the curve arrives in UTC; the JSON speaks the configured zone
    curve = curve_of(datetime(2026, 11, 25, 1, tzinfo=UTC), [0.11005, 0.1187, 0.1101, 0.30, 0.1187, 0.20])
    result = plan(PlanRequest(curve, datetime(2026, 11, 25, 3, tzinfo=AMS), AMS, 0.25, 2))
    document = plan_json(
        result.explanation["days"], policy="unique-price-levels", tz_name="Europe/Amsterdam", threshold=0.25, top_x=2
    )

    assert json.loads(json.dumps(document)) == {
        "policy": "unique-price-levels",
        "timezone": "Europe/Amsterdam",
        "threshold": 0.25,
        "top_x": 2,
        "periods": [],
        "energy": None,
        "warnings": [],
        "days": [
            {
                "date": "2026-11-25",
                "threshold_active": True,
                "excluded_by_threshold": 1,
                "no_eligible_slots": False,
                "levels": [0.1101, 0.1187],
                "slots": [
                    {
                        "start": "2026-11-25T02:00:00+01:00",
                        "end": "2026-11-25T02:15:00+01:00",
                        "price": 0.11005,
                        "status": "selected",
                        "rank": 1,
                    },
                    {
                        "start": "2026-11-25T02:15:00+01:00",
                        "end": "2026-11-25T02:30:00+01:00",
                        "price": 0.1187,
                        "status": "selected",
                        "rank": 2,
                    },
                    {
                        "start": "2026-11-25T02:30:00+01:00",
                        "end": "2026-11-25T02:45:00+01:00",
                        "price": 0.1101,
                        "status": "selected",
                        "rank": 1,
                    },
                    {
                        "start": "2026-11-25T02:45:00+01:00",
                        "end": "2026-11-25T03:00:00+01:00",
                        "price": 0.30,
                        "status": "above_threshold",
                        "rank": None,
                    },
                    {
                        "start": "2026-11-25T03:00:00+01:00",
                        "end": "2026-11-25T03:15:00+01:00",
                        "price": 0.1187,
                        "status": "selected",
                        "rank": 2,
                    },
                    {
                        "start": "2026-11-25T03:15:00+01:00",
                        "end": "2026-11-25T03:30:00+01:00",
                        "price": 0.20,
                        "status": "not_in_top_x",
                        "rank": None,
                    },
                ],
                "periods": [
                    {"start": "2026-11-25T02:00:00+01:00", "end": "2026-11-25T02:45:00+01:00"},
                    {"start": "2026-11-25T03:00:00+01:00", "end": "2026-11-25T03:15:00+01:00"},
                ],
            }
        ],
    }
    assert dict(result.explanation) == {"days": result.explanation["days"]}


def test_policy_registration_object() -> None:
    assert isinstance(POLICY, StandalonePolicy)
    assert POLICY.name == "unique-price-levels"
    assert POLICY.plan is plan


def test_slot_explanation_exposes_the_slot() -> None:
    slot = PriceSlot(NIGHT, NIGHT + QUARTER, 0.1)
    item = SlotExplanation(slot, SlotStatus.SELECTED, 1)
    assert (item.start, item.end, item.price_eur_kwh) == (slot.start, slot.end, 0.1)


def test_a_year_of_quarter_hours_plans_in_well_under_a_second() -> None:
    # a loose guard against accidental quadratic work; bench/bench_planning.py gives the real figure
    prices = [0.10 + (index % 96) / 400 + (index % 7) / 1000 for index in range(35_040)]
    curve = curve_of(datetime(2026, 1, 1, tzinfo=AMS), prices)
    began = wall_time.perf_counter()
    result = plan(PlanRequest(curve, datetime(2026, 6, 1, tzinfo=AMS), AMS, 0.25, 16))
    elapsed_s = wall_time.perf_counter() - began

    assert len(result.explanation["days"]) == 365
    assert elapsed_s < 1.0


# --- property test against a brute-force oracle ---------------------------------------------------------------


def oracle_level(price: float) -> Decimal:
    return Decimal(str(price)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def oracle(
    slots: Sequence[PriceSlot], tz: tzinfo, threshold: float | None, top_x: int
) -> dict[PriceSlot, tuple[SlotStatus, int | None]]:
    """For each slot: eligible, and how many distinct eligible levels of its own day lie strictly below its own."""
    facts = [
        (
            slot,
            slot.start.astimezone(tz).date(),
            oracle_level(slot.price_eur_kwh),
            threshold is None or slot.price_eur_kwh <= threshold,
        )
        for slot in slots
    ]
    answer: dict[PriceSlot, tuple[SlotStatus, int | None]] = {}
    for slot, day, level, eligible in facts:
        if not eligible:
            answer[slot] = (SlotStatus.ABOVE_THRESHOLD, None)
            continue
        below = {
            other_level
            for _, other_day, other_level, other_eligible in facts
            if other_day == day and other_eligible and other_level < level
        }
        if len(below) < top_x:
            answer[slot] = (SlotStatus.SELECTED, len(below) + 1)
        else:
            answer[slot] = (SlotStatus.NOT_IN_TOP_X, None)
    return answer


ZONES = [AMS, ZoneInfo("UTC"), ZoneInfo("Asia/Kolkata"), ZoneInfo("America/Santiago")]
ANCHORS = [
    datetime(2026, 3, 28, 20, tzinfo=UTC),  # Amsterdam spring-forward night
    datetime(2026, 10, 24, 20, tzinfo=UTC),  # Amsterdam fall-back night
    datetime(2026, 4, 4, 22, tzinfo=UTC),  # Santiago falls back (midnight repeats)
    datetime(2026, 9, 5, 22, tzinfo=UTC),  # Santiago springs forward at midnight
    datetime(2026, 6, 30, 18, 30, tzinfo=UTC),
]
PRICE_POOL = [-0.05, 0.0, 0.1, 0.11005, 0.1101, 0.12, 0.2, 0.25, 0.2500001, 0.3]


@st.composite
def curves(draw: st.DrawFn) -> PriceCurve:
    cursor = draw(st.sampled_from(ANCHORS))
    slots = []
    for _ in range(draw(st.integers(0, 120))):
        cursor += draw(st.sampled_from([timedelta(0)] * 6 + [QUARTER, HOUR]))  # mostly touching, some gaps
        length = draw(st.sampled_from([QUARTER, QUARTER, QUARTER, HOUR]))
        if draw(st.booleans()):
            price = draw(st.sampled_from(PRICE_POOL))
        else:
            price = round(draw(st.floats(-0.5, 1.0, allow_nan=False)), draw(st.integers(2, 6)))
        slots.append(PriceSlot(cursor, cursor + length, price))
        cursor += length
    return PriceCurve(tuple(slots))


@settings(max_examples=200, deadline=None)
@given(
    curve=curves(),
    tz=st.sampled_from(ZONES),
    threshold=st.one_of(st.none(), st.sampled_from([0.0, 0.1101, 0.2, 0.25])),
    top_x=st.integers(0, 12),
)
def test_selection_matches_a_brute_force_oracle(
    curve: PriceCurve, tz: tzinfo, threshold: float | None, top_x: int
) -> None:
    days = select_slots(curve, tz=tz, price_threshold_eur_kwh=threshold, top_x_charge_count=top_x)
    expected = oracle(curve.slots, tz, threshold, top_x)

    got = {item.slot: (item.status, item.rank) for day in days for item in day.slots}
    assert got == expected
    assert [slot for day in days for slot in day.prices] == list(curve.slots)
    assert len({day.date for day in days}) == len(days)
    for day in days:
        assert all(slot.start.astimezone(tz).date() == day.date for slot in day.prices)
        chosen = sorted({oracle_level(s.price_eur_kwh) for s in day.prices if expected[s][0] is SlotStatus.SELECTED})
        assert day.levels_eur_kwh == tuple(float(level) for level in chosen)
        selected = [Period(s.start, s.end) for s in day.prices if expected[s][0] is SlotStatus.SELECTED]
        assert day.periods == merge_periods(selected)
        assert day.excluded_by_threshold == sum(1 for s in day.prices if expected[s][0] is SlotStatus.ABOVE_THRESHOLD)
