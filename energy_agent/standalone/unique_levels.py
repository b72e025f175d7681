"""The default standalone policy (the proposal's rule): charge in every slot at one of the X lowest unique levels.

Per local calendar day: slots priced above `price_threshold` are never chosen; the remaining prices,
rounded to 4 decimals, form the day's distinct levels; the `top_x_charge_count` lowest levels are chosen
and every slot at a chosen level is selected (not merely the X cheapest slots). The whole day is always
planned, so the plan does not drift as the day passes; callers drop periods that have ended.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Context, Decimal

from energy_agent.api.domain import Period, PriceCurve, PriceSlot, merge_periods
from energy_agent.api.planning import (
    DEFAULT_STANDALONE_POLICY,
    DayJson,
    Plan,
    PlanRequest,
    SlotJson,
    SlotStatus,
    StandalonePolicy,
)
from energy_agent.standalone.local_days import DaysExplanation, local_iso, split_local_days

POLICY_NAME = DEFAULT_STANDALONE_POLICY
LEVEL_DECIMALS = 4

_QUANTUM = Decimal(1).scaleb(-LEVEL_DECIMALS)
# enough digits for any finite float (up to ~1.8e308) to be quantized without InvalidOperation
_LEVEL_CONTEXT = Context(prec=400, rounding=ROUND_HALF_UP)


def price_level(price_eur_kwh: float) -> Decimal:
    """The price level a slot belongs to: its shortest repr rounded half-up to 4 decimals (0.11005 → 0.1101)."""
    level = Decimal(repr(price_eur_kwh)).quantize(_QUANTUM, context=_LEVEL_CONTEXT)
    # -0.0 and 0.0 are one level; keep the sign off so JSON shows 0.0
    return level.copy_abs() if level.is_zero() else level


@dataclass(frozen=True, slots=True)
class SlotExplanation:
    """One price slot and the verdict on it; `rank` (1 = cheapest chosen level) only when selected."""

    slot: PriceSlot
    status: SlotStatus
    rank: int | None = None

    @property
    def start(self) -> datetime:
        """Start of the slot (UTC, as domain types store it)."""
        return self.slot.start

    @property
    def end(self) -> datetime:
        """End of the slot (UTC)."""
        return self.slot.end

    @property
    def price_eur_kwh(self) -> float:
        """The slot's price, unrounded."""
        return self.slot.price_eur_kwh


@dataclass(frozen=True)
class DayPlan:
    """The selection for one local calendar day that has prices.

    `slots` (the per-slot verdicts) is derived on first use: planning needs only the periods.
    """

    date: date
    timezone: tzinfo
    """The zone whose calendar day this is."""
    price_threshold_eur_kwh: float | None
    """The cap the day was planned with (None: no cap)."""
    prices: tuple[PriceSlot, ...]
    """Every slot starting on this day, in order."""
    levels_eur_kwh: tuple[float, ...]
    """The chosen levels (rounded to 4 decimals), ascending; rank n is `levels_eur_kwh[n - 1]`."""
    excluded_by_threshold: int
    """How many slots are priced above the cap."""
    periods: tuple[Period, ...]
    """Runs of adjacent selected slots, merged (UTC; `day_json` shows them in the day's zone)."""

    @property
    def threshold_active(self) -> bool:
        """True when the cap excluded at least one slot."""
        return self.excluded_by_threshold > 0

    @property
    def no_eligible_slots(self) -> bool:
        """True when no slot is at or below the cap: the agent does not charge that day."""
        return self.excluded_by_threshold == len(self.prices)

    @functools.cached_property
    def slots(self) -> tuple[SlotExplanation, ...]:
        """Every slot of the day with its status and rank, in order."""
        threshold = self.price_threshold_eur_kwh
        rank_of = {level: rank for rank, level in enumerate(self.levels_eur_kwh, start=1)}
        # the verdict depends on the price alone: decide once per distinct price, then label every slot
        verdicts: dict[float, tuple[SlotStatus, int | None]] = {}
        for price in {slot.price_eur_kwh for slot in self.prices}:
            if threshold is not None and price > threshold:
                verdicts[price] = (SlotStatus.ABOVE_THRESHOLD, None)
            elif (rank := rank_of.get(float(price_level(price)))) is not None:
                verdicts[price] = (SlotStatus.SELECTED, rank)
            else:
                verdicts[price] = (SlotStatus.NOT_IN_TOP_X, None)
        return tuple(
            SlotExplanation(slot, verdict[0], verdict[1])
            for slot in self.prices
            for verdict in (verdicts[slot.price_eur_kwh],)
        )


def _runs(selected: Sequence[PriceSlot]) -> tuple[Period, ...]:
    """Merge touching slots (sorted) into periods."""
    periods: list[Period] = []
    run_start: datetime | None = None
    run_end: datetime | None = None
    for slot in selected:
        if run_end is not None and slot.start == run_end:
            run_end = slot.end
            continue
        if run_start is not None and run_end is not None:
            periods.append(Period(run_start, run_end))
        run_start, run_end = slot.start, slot.end
    if run_start is not None and run_end is not None:
        periods.append(Period(run_start, run_end))
    return tuple(periods)


def _plan_day(
    day: date,
    slots: tuple[PriceSlot, ...],
    tz: tzinfo,
    threshold: float | None,
    top_x: int,
    levels: dict[float, float],
) -> DayPlan:
    eligible = slots if threshold is None else [slot for slot in slots if slot.price_eur_kwh <= threshold]
    chosen = sorted({levels[slot.price_eur_kwh] for slot in eligible})[:top_x]
    chosen_set = set(chosen)
    selected = [slot for slot in eligible if levels[slot.price_eur_kwh] in chosen_set]
    return DayPlan(
        date=day,
        timezone=tz,
        price_threshold_eur_kwh=threshold,
        prices=slots,
        levels_eur_kwh=tuple(chosen),
        excluded_by_threshold=len(slots) - len(eligible),
        periods=_runs(selected),
    )


def _start_of(slot: PriceSlot) -> datetime:
    return slot.start


def select_slots(
    curve: PriceCurve, *, tz: tzinfo, price_threshold_eur_kwh: float | None, top_x_charge_count: int
) -> list[DayPlan]:
    """Plan every local day of `curve` in `tz`: the slots at the X lowest unique price levels at or below the cap.

    `price_threshold_eur_kwh` None means no cap. A slot belongs to the day its start falls on. Pure: no I/O.
    """
    if top_x_charge_count < 0:
        raise ValueError(f"top_x_charge_count must not be negative, got {top_x_charge_count}")
    if price_threshold_eur_kwh is not None and not math.isfinite(price_threshold_eur_kwh):
        raise ValueError(f"price_threshold_eur_kwh must be finite, got {price_threshold_eur_kwh}")
    # levels as floats: a 4-decimal value has one float and back, and floats hash and sort faster than Decimals
    levels = {price: float(price_level(price)) for price in {slot.price_eur_kwh for slot in curve.slots}}
    return [
        _plan_day(day, day_slots, tz, price_threshold_eur_kwh, top_x_charge_count, levels)
        for day, day_slots in split_local_days(curve.slots, tz, _start_of)
    ]


def day_json(day: DayPlan) -> DayJson:
    """The JSON form of a day, as `energy-agent plan --json` prints it (slot `price` unrounded, `levels` rounded;
    `spot_price` beside `price` when the slot carries a spot price)."""
    tz = day.timezone
    slots: list[SlotJson] = []
    previous_end: datetime | None = None
    previous_end_text = ""
    for item in day.slots:
        slot = item.slot
        # slots usually touch: the previous end, already formatted, is this start
        start_text = previous_end_text if slot.start == previous_end else local_iso(slot.start, tz)
        previous_end, previous_end_text = slot.end, local_iso(slot.end, tz)
        entry: SlotJson = {
            "start": start_text,
            "end": previous_end_text,
            "price": slot.price_eur_kwh,
            "status": item.status.value,
            "rank": item.rank,
        }
        if slot.spot_eur_kwh is not None:
            entry["spot_price"] = slot.spot_eur_kwh
        slots.append(entry)
    return {
        "date": day.date.isoformat(),
        "threshold_active": day.threshold_active,
        "excluded_by_threshold": day.excluded_by_threshold,
        "no_eligible_slots": day.no_eligible_slots,
        "levels": list(day.levels_eur_kwh),
        "slots": slots,
        "periods": [{"start": local_iso(period.start, tz), "end": local_iso(period.end, tz)} for period in day.periods],
    }


def _not_charging_warning(day: DayPlan, threshold_eur_kwh: float) -> str:
    return f"no slot at or below the {threshold_eur_kwh:g} EUR/kWh cap on {day.date.isoformat()}: not charging that day"


def plan(request: PlanRequest) -> Plan:
    """The standalone plan: every selected period of every day (ended ones too), with per-slot explanations.

    `threshold_active` and `no_eligible_slots` describe the local day containing `request.now` (False when
    that day has no prices); a warning is given for each day not yet over that has no slot under the cap.
    """
    days = select_slots(
        request.prices,
        tz=request.timezone,
        price_threshold_eur_kwh=request.price_threshold_eur_kwh,
        top_x_charge_count=request.top_x_charge_count,
    )
    today = request.now.astimezone(request.timezone).date()
    current = next((day for day in days if day.date == today), None)
    periods = merge_periods(
        Period(period.start, period.end, request.max_current_a) for day in days for period in day.periods
    )
    threshold = request.price_threshold_eur_kwh
    warnings = tuple(
        _not_charging_warning(day, threshold)
        for day in days
        if threshold is not None and day.no_eligible_slots and day.prices[-1].end > request.now
    )
    return Plan(
        periods=periods,
        threshold_active=current is not None and current.threshold_active,
        no_eligible_slots=current is not None and current.no_eligible_slots,
        warnings=warnings,
        explanation=DaysExplanation(lambda: [day_json(day) for day in days], f"{len(days)} days"),
    )


POLICY = StandalonePolicy(POLICY_NAME, plan)
"""The policy the core registers (`energy_agent.standalone.plugin`)."""
