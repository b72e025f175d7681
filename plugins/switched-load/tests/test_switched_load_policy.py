"""The `cheapest-hours` policy as a pure function: hour grouping, ties, the cap, options, days and DST."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from energy_agent.api import Period, PlanRequest, PriceCurve, PriceSlot
from energy_agent_switched_load.policy import (
    ABOVE_CAP,
    NOT_CHOSEN,
    POLICY,
    SELECTED,
    CheapestHoursOptions,
    hours_of,
    plan,
)

AMS = ZoneInfo("Europe/Amsterdam")
DAY = datetime(2026, 11, 25, tzinfo=AMS)


def hourly(prices: Sequence[float], start: datetime = DAY) -> PriceCurve:
    """One slot per hour from `start`."""
    return PriceCurve.from_slots(
        [PriceSlot(start + timedelta(hours=i), start + timedelta(hours=i + 1), p) for i, p in enumerate(prices)]
    )


def request(
    curve: PriceCurve,
    *,
    now: datetime = DAY,
    threshold: float | None = 0.25,
    **options: object,
) -> PlanRequest:
    return PlanRequest(curve, now, AMS, threshold, top_x_charge_count=16, options=options)


def local_hours(periods: Sequence[Period]) -> list[tuple[int, int]]:
    """Periods as (start hour, end hour) in Amsterdam, for readable assertions."""
    return [(p.start.astimezone(AMS).hour, p.end.astimezone(AMS).hour) for p in periods]


# A day of hourly prices with one clear cheapest run (02..05) and a few dear hours.
PRICES = [0.20, 0.18, 0.10, 0.11, 0.12, 0.19, 0.21, 0.30, 0.31, 0.24, 0.22, 0.23]
PRICES += [0.17, 0.16, 0.22, 0.24, 0.27, 0.35, 0.40, 0.33, 0.26, 0.23, 0.21, 0.20]


def test_chooses_the_n_cheapest_hours_and_merges_adjacent_ones() -> None:
    result = plan(request(hourly(PRICES), hours_per_day=5))
    assert local_hours(result.periods) == [(2, 5), (12, 14)]
    assert all(p.max_current_a is None for p in result.periods), "an on/off load carries no current"
    day = result.explanation["days"][0]
    ranks = {slot["start"][11:13]: slot["rank"] for slot in day["slots"] if slot["status"] == SELECTED}
    assert ranks == {"02": 1, "03": 2, "04": 3, "13": 4, "12": 5}
    assert day["levels"] == [0.1, 0.11, 0.12, 0.16, 0.17]
    assert result.warnings == ()


def test_default_is_four_hours_and_the_cores_threshold_caps() -> None:
    result = plan(request(hourly(PRICES)))
    assert local_hours(result.periods) == [(2, 5), (13, 14)]
    assert result.explanation["hours_per_day"] == 4
    assert result.explanation["price_cap_eur_kwh"] == 0.25


def test_ties_go_to_the_earlier_hour() -> None:
    prices = [0.15] * 24
    result = plan(request(hourly(prices), hours_per_day=3))
    assert local_hours(result.periods) == [(0, 3)]
    # equal to 6 decimals counts as equal, whatever float noise the mean has
    prices = [0.3, 0.1 + 0.2, 0.30000001, *[0.5] * 21]
    assert local_hours(plan(request(hourly(prices), threshold=None, hours_per_day=2)).periods) == [(0, 2)]


def test_the_cap_excludes_hours_even_when_they_are_among_the_cheapest() -> None:
    result = plan(request(hourly(PRICES), hours_per_day=3, price_cap_eur_kwh=0.105))
    assert local_hours(result.periods) == [(2, 3)]
    assert result.threshold_active and not result.no_eligible_slots
    assert result.warnings == (
        "only 1 hour(s) at or below the 0.105 EUR/kWh cap on 2026-11-25: the load runs 1 of 3 hours",
    )
    statuses = [slot["status"] for slot in result.explanation["days"][0]["slots"]]
    assert statuses.count(ABOVE_CAP) == 23 and statuses.count(SELECTED) == 1


def test_own_cap_wins_over_the_cores_threshold_and_no_cap_at_all() -> None:
    dear = [0.40] * 24
    assert plan(request(hourly(dear), price_cap_eur_kwh=0.5)).periods != ()
    assert plan(request(hourly(dear), threshold=None)).periods != ()
    capped = plan(request(hourly(dear)))
    assert capped.periods == () and capped.no_eligible_slots
    assert capped.warnings == (
        "no hour at or below the 0.25 EUR/kWh cap on 2026-11-25: the load does not run that day",
    )


def test_an_hour_with_one_quarter_above_the_cap_is_excluded_whole() -> None:
    quarters = []
    for hour in range(24):
        for quarter in range(4):
            start = DAY + timedelta(hours=hour, minutes=15 * quarter)
            price = 0.30 if hour > 1 else (0.26 if (hour, quarter) == (0, 3) else 0.05)
            quarters.append(PriceSlot(start, start + timedelta(minutes=15), price))
    curve = PriceCurve.from_slots(quarters)
    assert [round(h.price_eur_kwh, 4) for h in hours_of(curve, AMS)[:2]] == [0.1025, 0.05]
    result = plan(request(curve, hours_per_day=1))
    assert local_hours(result.periods) == [(1, 2)], "hour 0 averages 0.10 but holds a quarter above the cap"
    slots = result.explanation["days"][0]["slots"]
    assert len(slots) == 96 and {s["status"] for s in slots[:4]} == {ABOVE_CAP}
    assert result.explanation["days"][0]["excluded_by_threshold"] == 4 * 23


def test_mean_is_time_weighted() -> None:
    slots = [
        PriceSlot(DAY, DAY + timedelta(minutes=45), 0.10),
        PriceSlot(DAY + timedelta(minutes=45), DAY + timedelta(hours=1), 0.50),
    ]
    assert hours_of(PriceCurve.from_slots(slots), AMS)[0].price_eur_kwh == 0.2


def test_every_day_is_planned_and_ended_days_give_no_warning() -> None:
    two_days = hourly([0.40] * 24 + PRICES)
    now = DAY + timedelta(days=1, hours=6)
    result = plan(request(two_days, now=now, hours_per_day=2))
    assert [d["date"] for d in result.explanation["days"]] == ["2026-11-25", "2026-11-26"]
    assert [p.start.astimezone(AMS).day for p in result.periods] == [26]
    assert result.warnings == (), "yesterday had no eligible hour, but it is over"
    assert not result.no_eligible_slots


def test_dst_autumn_day_has_25_hours_and_both_two_oclocks_count() -> None:
    autumn = datetime(2026, 10, 25, tzinfo=AMS)
    start_utc = autumn.astimezone(UTC)
    prices = [0.30] * 25
    prices[2] = prices[3] = 0.05  # 02:00 CEST and 02:00 CET
    curve = PriceCurve.from_slots(
        [PriceSlot(start_utc + timedelta(hours=i), start_utc + timedelta(hours=i + 1), p) for i, p in enumerate(prices)]
    )
    result = plan(PlanRequest(curve, autumn, AMS, None, 16, options={"hours_per_day": 2}))
    assert len(result.explanation["days"]) == 1 and len(result.explanation["days"][0]["slots"]) == 25
    assert result.periods == (Period(start_utc + timedelta(hours=2), start_utc + timedelta(hours=4)),)


def test_empty_curve_and_zero_hours() -> None:
    assert plan(request(PriceCurve(()))).periods == ()
    result = plan(request(hourly(PRICES), hours_per_day=0))
    assert result.periods == () and {s["status"] for s in result.explanation["days"][0]["slots"]} >= {NOT_CHOSEN}


def test_explanation_is_json_ready_and_in_local_time() -> None:
    result = plan(request(hourly(PRICES), hours_per_day=1))
    document = json.loads(json.dumps(result.explanation))
    assert document["days"][0]["periods"] == [
        {"start": "2026-11-25T02:00:00+01:00", "end": "2026-11-25T03:00:00+01:00"}
    ]
    assert document["policy"] == POLICY.name == "cheapest-hours"


@pytest.mark.parametrize(
    "options",
    [{"hours_per_day": 25}, {"hours_per_day": -1}, {"hours_per_day": True}, {"hours_per_day": 2.5},
     {"price_cap_eur_kwh": float("nan")}, {"price_cap_eur_kwh": "0.2"}],
)  # fmt: skip
def test_bad_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        CheapestHoursOptions.from_options(options)
