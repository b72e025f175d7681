"""The `ready-by` policy against an independent oracle, over random curves (hypothesis).

What is checked, for every generated instance (curve, cap, now, departure, power, energy needed):

1. Least cost, by a linear program (scipy `linprog`, HiGHS) that shares no code with the policy: variables are
   the hours used in each eligible part of the window (0 ≤ x ≤ the part's hours), the constraint is that they sum
   to the hours the plan uses; the plan's cost must equal power × the LP's optimum (to 1e-7 EUR).
2. Only eligible parts inside the window are used: no time outside [now, ready_by), none in a slot priced above
   the cap (`price > cap`, raw prices), none where there is no price.
3. The tie rule, as a prefix property: if part i is (partly) used and eligible part j is not fully used, then
   (price_j, start_j) > (price_i, start_i): cheaper first, among equal prices the earlier first.
4. Whole-minute rounding: at most one part is partly used; its piece starts at the part's start and lasts a whole
   number of minutes; the planned time reaches the time needed (energy / power, exact in decimals) and exceeds it by
   less than one minute. When the eligible parts are short, every one is used whole and the shortfall is reported.
5. The summary (needed, planned, missing, cost, ready_by), every slot's verdict (selected / above_threshold /
   outside_window / not_needed), the ranks (the order parts were chosen in), the per-day split in the zone
   (DST days of 23 and 25 hours), and the merged periods agree with 1-4.

Curves: 15-minute, 60-minute and mixed 15/30/60-minute slots with occasional gaps, around the DST changes of
Europe/Amsterdam, America/New_York and Australia/Sydney and ordinary days; prices from a small set (ties, zero and
negative prices) or free; caps of none, a price of the curve (at-the-cap), free, or below every price.

Run `pytest tests/test_ready_by_property.py -s` to see the figures (examples run, time, what they covered);
READY_BY_EXAMPLES=N changes the number of examples (default 600).
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from energy_agent.api.domain import PriceCurve, PriceSlot
from energy_agent.api.planning import Plan, PlanRequest
from energy_agent.standalone.ready_by import plan

EXAMPLES = int(os.environ.get("READY_BY_EXAMPLES", "600"))
ZONE_DAYS = {
    "Europe/Amsterdam": [date(2026, 3, 29), date(2026, 10, 25), date(2026, 6, 15)],
    "America/New_York": [date(2026, 3, 8), date(2026, 11, 1), date(2026, 1, 15)],
    "Australia/Sydney": [date(2026, 10, 4), date(2026, 4, 5), date(2026, 7, 1)],
}
PRICES = [-0.05, -0.01, 0.0, 0.05, 0.1, 0.12, 0.2, 0.25, 0.3]
POWERS_KW = [1.4, 2.3, 3.7, 6.6, 7.4, 11.0, 22.0]
MINUTE = timedelta(minutes=1)
FIGURES: Counter[str] = Counter()


@dataclass(frozen=True)
class Instance:
    """One generated planning problem."""

    zone: ZoneInfo
    slots: tuple[PriceSlot, ...]
    cap: float | None
    now: datetime
    ready_by: datetime
    power_kw: float
    energy_kwh: float


@st.composite
def instances(draw: st.DrawFn) -> Instance:
    """A random curve around a DST change (or not), a cap, a window, a power and an energy need."""
    zone_name = draw(st.sampled_from(sorted(ZONE_DAYS)))
    zone = ZoneInfo(zone_name)
    day = draw(st.sampled_from(ZONE_DAYS[zone_name]))
    # local midnight the evening before, plus whole quarter hours, then stepped in UTC
    begin = datetime.combine(day - timedelta(days=1), datetime.min.time(), tzinfo=zone).astimezone(UTC)
    begin += draw(st.integers(0, 4 * 30)) * timedelta(minutes=15)
    layout = draw(st.sampled_from(["15", "60", "mixed"]))
    count = draw(st.integers(1, 40))
    free_prices = draw(st.integers(0, 3)) == 0  # mostly prices from a small set: ties
    price = st.floats(-0.5, 1.0, allow_nan=False) if free_prices else st.sampled_from(PRICES)
    slots, start = [], begin
    for _ in range(count):
        minutes = {"15": 15, "60": 60}.get(layout) or draw(st.sampled_from([15, 30, 60]))
        if draw(st.integers(0, 9)) == 0:  # a gap in the prices now and then
            start += timedelta(minutes=draw(st.sampled_from([15, 60])))
        slots.append(PriceSlot(start, start + timedelta(minutes=minutes), draw(price)))
        start += timedelta(minutes=minutes)
    prices = [slot.price_eur_kwh for slot in slots]
    cap = draw(
        st.one_of(
            st.none(),
            st.sampled_from(prices),
            st.sampled_from(prices),
            st.floats(-0.6, 1.0, allow_nan=False),
            st.just(min(prices) - 0.01),  # leaves nothing
        )
    )
    span_s = int((start - begin).total_seconds())
    now = begin + timedelta(seconds=draw(st.integers(-3600, span_s // 2)))
    # now and then a departure at or before now (an empty window); mostly one ahead
    ahead = st.integers(-1800, 0) if draw(st.integers(0, 15)) == 15 else st.integers(60, span_s + 7200)
    ready_by = now + timedelta(seconds=draw(ahead))
    power_kw = draw(st.one_of(st.sampled_from(POWERS_KW), st.integers(5, 500).map(lambda tenths: tenths / 10)))
    eligible_h = sum(
        max(0.0, (min(slot.end, ready_by) - max(slot.start, now)).total_seconds() / 3600)
        for slot in slots
        if cap is None or slot.price_eur_kwh <= cap
    )
    # about what the eligible parts hold (often a little less, sometimes more), whole quarter hours, or any amount
    share = st.floats(0.05, 1.3).map(lambda share: round(share * eligible_h * power_kw, 3))
    exact_quarters = st.integers(1, 4 * 48).map(lambda quarters: round(power_kw * quarters / 4, 6))
    any_wh = st.integers(0, 150_000).map(lambda wh: wh / 1000)
    kinds = [share if eligible_h else any_wh, share if eligible_h else exact_quarters, exact_quarters, any_wh]
    energy_kwh = 0.0 if draw(st.integers(0, 15)) == 15 else draw(kinds[draw(st.integers(0, 3))])
    return Instance(zone, tuple(slots), cap, now, ready_by, power_kw, energy_kwh)


@dataclass(frozen=True)
class Part:
    """An eligible slot's part inside the window, and how much of it the plan uses."""

    index: int
    start: datetime
    end: datetime
    price_eur_kwh: float
    used: timedelta
    used_pieces: tuple[tuple[datetime, datetime], ...]

    @property
    def length(self) -> timedelta:
        return self.end - self.start


def hours(span: timedelta) -> Fraction:
    return Fraction(span // timedelta(microseconds=1), 3_600_000_000)


def decimal(value: float) -> Fraction:
    return Fraction(repr(value))


def pieces_of(result: Plan, start: datetime, end: datetime) -> tuple[tuple[datetime, datetime], ...]:
    """Where the plan's periods overlap [start, end)."""
    found = []
    for period in result.periods:
        low, high = max(period.start, start), min(period.end, end)
        if low < high:
            found.append((low, high))
    return tuple(found)


def lp_min_cost_eur(parts: list[Part], hours_used: float, power_kw: float) -> float:
    """The least cost of running `hours_used` hours in the parts (fractions allowed), by linear programming."""
    if not parts or hours_used <= 0:
        return 0.0
    answer = linprog(
        c=[part.price_eur_kwh * power_kw for part in parts],
        A_eq=[[1.0] * len(parts)],
        b_eq=[hours_used],
        bounds=[(0.0, float(hours(part.length))) for part in parts],
        method="highs",
    )
    assert answer.status == 0, answer.message
    return float(answer.fun)


def check_window_and_cap(case: Instance, result: Plan, parts: list[Part]) -> None:
    """2: nothing outside the eligible parts of the window."""
    inside = sum((hours(part.used) for part in parts), Fraction(0))
    total = sum((hours(period.end - period.start) for period in result.periods), Fraction(0))
    assert total == inside, "time planned outside the eligible parts of the window"
    for period in result.periods:
        assert case.now <= period.start < period.end <= case.ready_by


def check_ties_and_rounding(case: Instance, parts: list[Part]) -> Fraction:
    """3 and 4; returns the planned hours."""
    used = [part for part in parts if part.used]
    for chosen in used:
        for other in parts:
            if other is not chosen and other.used < other.length:
                assert (other.price_eur_kwh, other.start) > (chosen.price_eur_kwh, chosen.start), "not cheapest-first"
    partial = [part for part in parts if timedelta(0) < part.used < part.length]
    assert len(partial) <= 1
    for part in partial:
        assert part.used_pieces == ((part.start, part.start + part.used),), "a partial part must run from its start"
        assert part.used % MINUTE == timedelta(0), "a partial part must last whole minutes"
    needed_h = decimal(case.energy_kwh) / decimal(case.power_kw)
    planned_h = sum((hours(part.used) for part in parts), Fraction(0))
    available_h = sum((hours(part.length) for part in parts), Fraction(0))
    if available_h >= needed_h:
        assert needed_h <= planned_h < needed_h + Fraction(1, 60), (needed_h, planned_h)
    else:
        assert all(part.used == part.length for part in parts), "short: every eligible part must be used whole"
    return planned_h


def check_summary(case: Instance, result: Plan, parts: list[Part], planned_h: Fraction) -> None:
    """1 and 5 (summary): least cost by the LP, and the reported figures."""
    energy = result.energy
    assert energy is not None
    power = case.power_kw
    cost = sum(part.price_eur_kwh * power * float(hours(part.used)) for part in parts)
    assert energy.cost_eur == pytest.approx(cost, abs=1e-9)
    assert energy.cost_eur == pytest.approx(lp_min_cost_eur(parts, float(planned_h), power), abs=1e-7)
    assert energy.energy_planned_kwh == pytest.approx(power * float(planned_h), abs=1e-9)
    missing = max(Fraction(0), decimal(case.energy_kwh) - decimal(power) * planned_h)
    assert energy.energy_missing_kwh == pytest.approx(float(missing), abs=1e-9)
    assert (energy.energy_needed_kwh, energy.ready_by, energy.power_kw) == (case.energy_kwh, case.ready_by, power)
    assert bool(result.warnings) == (missing > 0)


def check_explanation(case: Instance, result: Plan, parts: list[Part]) -> None:
    """5 (verdicts, ranks, days)."""
    days = result.explanation["days"]
    slots = [slot for day in days for slot in day["slots"]]
    assert len(slots) == len(case.slots)
    by_index = {part.index: part for part in parts}
    for index, (slot, shown) in enumerate(zip(case.slots, slots, strict=True)):
        day = next(d for d in days if shown in d["slots"])
        assert slot.start.astimezone(case.zone).date().isoformat() == day["date"]
        assert datetime.fromisoformat(shown["start"]) == slot.start
        in_window = slot.end > case.now and slot.start < case.ready_by and case.now < case.ready_by
        part = by_index.get(index)
        if part is not None and part.used:
            expected = "selected"
        elif not in_window:
            expected = "outside_window"
        elif case.cap is not None and slot.price_eur_kwh > case.cap:
            expected = "above_threshold"
        else:
            expected = "not_needed"
        assert shown["status"] == expected, (index, shown)
        assert shown["energy_kwh"] == pytest.approx(case.power_kw * float(hours(part.used)) if part else 0.0, abs=1e-6)
    order = sorted((p for p in parts if p.used), key=lambda p: (p.price_eur_kwh, p.start))
    assert [slots[p.index]["rank"] for p in order] == list(range(1, len(order) + 1))


def parts_of(case: Instance, result: Plan) -> list[Part]:
    """Every eligible part of the window, with the time the plan's periods spend in it."""
    found = []
    for index, slot in enumerate(case.slots):
        start, end = max(slot.start, case.now), min(slot.end, case.ready_by)
        if start >= end or (case.cap is not None and slot.price_eur_kwh > case.cap):
            continue
        pieces = pieces_of(result, start, end)
        used = sum((high - low for low, high in pieces), timedelta(0))
        found.append(Part(index, start, end, slot.price_eur_kwh, used, pieces))
    return found


def tally(case: Instance, result: Plan, parts: list[Part]) -> None:
    """Count what the examples covered, for the figures and the coverage asserts."""
    FIGURES["examples"] += 1
    energy = result.energy
    assert energy is not None
    FIGURES["short" if energy.energy_missing_kwh > 0 else "complete"] += 1
    FIGURES["partial part"] += any(timedelta(0) < part.used < part.length for part in parts)
    prices = [part.price_eur_kwh for part in parts]
    FIGURES["ties among eligible parts"] += len(set(prices)) < len(prices)
    FIGURES["negative prices"] += any(slot.price_eur_kwh < 0 for slot in case.slots)
    in_window = [slot for slot in case.slots if slot.end > case.now and slot.start < case.ready_by]
    FIGURES["cap leaves nothing"] += bool(in_window) and not parts and case.now < case.ready_by
    used_prices = {part.price_eur_kwh for part in parts if part.used}
    FIGURES["ties at the margin"] += any(not p.used and p.price_eur_kwh in used_prices for p in parts)
    offsets = {slot.start.astimezone(case.zone).utcoffset() for slot in case.slots}
    FIGURES["DST change in the curve"] += len(offsets) > 1
    FIGURES["mixed slot lengths"] += len({slot.end - slot.start for slot in case.slots}) > 1


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(instances())
def check_against_the_oracle(case: Instance) -> None:
    """Plan one instance and check it against the oracle (module docstring)."""
    result = plan(
        PlanRequest(
            prices=PriceCurve(case.slots),
            now=case.now,
            timezone=case.zone,
            price_threshold_eur_kwh=case.cap,
            top_x_charge_count=16,
            ready_by=case.ready_by,
            energy_needed_kwh=case.energy_kwh,
            power_kw=case.power_kw,
        )
    )
    parts = parts_of(case, result)
    check_window_and_cap(case, result, parts)
    planned_h = check_ties_and_rounding(case, parts)
    check_summary(case, result, parts, planned_h)
    check_explanation(case, result, parts)
    starts = [period.start for period in result.periods]
    assert starts == sorted(starts)
    assert all(a.end < b.start for a, b in zip(result.periods, result.periods[1:], strict=False)), "not merged"
    tally(case, result, parts)


def test_ready_by_plans_match_the_lp_oracle(capsys: pytest.CaptureFixture[str]) -> None:
    FIGURES.clear()
    began = time.perf_counter()
    check_against_the_oracle()
    elapsed_s = time.perf_counter() - began
    assert FIGURES["examples"] >= EXAMPLES  # hypothesis ran (at least) every example asked for
    for kind in ("short", "complete", "partial part", "ties at the margin", "negative prices",
                 "cap leaves nothing", "DST change in the curve", "mixed slot lengths"):  # fmt: skip
        assert FIGURES[kind] > 0, f"no example covered: {kind}"
    covered = ", ".join(f"{count} {kind}" for kind, count in FIGURES.items() if kind != "examples")
    with capsys.disabled():
        print(
            f"\nready-by property test: {FIGURES['examples']} examples in {elapsed_s:.1f} s against an LP oracle "
            f"(scipy linprog, HiGHS); {covered}"
        )
    assert math.isfinite(elapsed_s)
