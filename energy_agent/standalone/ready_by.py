"""Standalone policy `ready-by`: enough energy by the departure, at the least cost, never above the cap.

The rule (docs/ready-by.md states it in the same words):

- Window: from now to the departure (`ready_by`). A slot counts only for its part inside the window.
- Eligible: a slot whose raw price is at or below `price_threshold`; no cap = every slot.
- Energy per part = charging power (kW) × its hours. The parts that reach the energy needed at the least
  total cost (price × energy) are chosen; among equal prices the earlier part goes first. Whole parts are
  used until what is left needs less than one part; that last part is used from its start for whole
  minutes, rounded up (never past its end).
- When the eligible energy is short, all of it is used and the shortfall is reported (`energy_missing_kwh`
  and a warning); the cap is never exceeded to close the gap.

Power is constant, so the choice is made in time: the energy needed becomes a charging time, computed
exactly from the decimal values given (1.1 kWh at 6.6 kW is 10 minutes, not 10.000000000000002), and the
parts are integer microseconds. Pure: no I/O, no clock; `now` comes in the request.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from fractions import Fraction

from energy_agent.api.domain import Period, PriceCurve, PriceSlot, merge_periods, require_aware
from energy_agent.api.planning import EnergySummary, Plan, PlanRequest, SlotStatus, StandalonePolicy
from energy_agent.standalone.ready_by_days import SlotVerdict, explain_days

POLICY_NAME = "ready-by"
MICROSECOND = timedelta(microseconds=1)
US_PER_MINUTE = 60_000_000
US_PER_HOUR = 3_600_000_000


@dataclass(frozen=True, slots=True)
class ChosenPart:
    """A chosen piece of a slot: [start, end) inside the window, `rank` the order it was chosen in (1 = first)."""

    slot_index: int
    start: datetime
    end: datetime
    rank: int

    @property
    def duration_us(self) -> int:
        """Length in microseconds."""
        return (self.end - self.start) // MICROSECOND


@dataclass(frozen=True)
class ReadyBySelection:
    """The outcome of the rule on a curve: the chosen parts and the energy they hold."""

    curve: PriceCurve
    now: datetime
    ready_by: datetime
    price_threshold_eur_kwh: float | None
    chosen: tuple[ChosenPart, ...]
    """In the order they were chosen (price, then start)."""
    in_window: range
    """Indices of the curve's slots that have a part inside the window."""
    energy: EnergySummary

    def verdicts(self) -> list[SlotVerdict]:
        """Every slot of the curve with its status, rank and planned energy, in order."""
        chosen = {part.slot_index: part for part in self.chosen}
        threshold = self.price_threshold_eur_kwh
        power_kw = self.energy.power_kw
        out: list[SlotVerdict] = []
        for index, slot in enumerate(self.curve.slots):
            part = chosen.get(index)
            if part is not None:
                energy_kwh = power_kw * part.duration_us / US_PER_HOUR
                out.append(SlotVerdict(slot, SlotStatus.SELECTED, part.rank, energy_kwh, part.start, part.end))
            elif index not in self.in_window:
                out.append(SlotVerdict(slot, SlotStatus.OUTSIDE_WINDOW))
            elif threshold is not None and slot.price_eur_kwh > threshold:
                out.append(SlotVerdict(slot, SlotStatus.ABOVE_THRESHOLD))
            else:
                out.append(SlotVerdict(slot, SlotStatus.NOT_NEEDED))
        return out


def exact(value: float) -> Fraction:
    """The decimal a float was written as (its shortest repr), exactly: 1.1 → 11/10."""
    return Fraction(repr(value))


def _check_inputs(energy_needed_kwh: float, power_kw: float, threshold: float | None) -> None:
    if not math.isfinite(power_kw) or power_kw <= 0:
        raise ValueError(f"power_kw must be a positive number, got {power_kw!r}")
    if not math.isfinite(energy_needed_kwh) or energy_needed_kwh < 0:
        raise ValueError(f"energy_needed_kwh must be a number at or above 0, got {energy_needed_kwh!r}")
    if threshold is not None and not math.isfinite(threshold):
        raise ValueError(f"price_threshold_eur_kwh must be finite, got {threshold!r}")


def _window(slots: Sequence[PriceSlot], now: datetime, ready_by: datetime) -> range:
    """Indices of the slots that overlap [now, ready_by)."""
    if ready_by <= now:
        return range(0)
    first = bisect.bisect_right(slots, now, key=_end_of)
    last = bisect.bisect_left(slots, ready_by, lo=first, key=_start_of)
    return range(first, last)


def _start_of(slot: PriceSlot) -> datetime:
    return slot.start


def _end_of(slot: PriceSlot) -> datetime:
    return slot.end


def _choose(
    parts: list[tuple[float, datetime, datetime, int]], needed_us: Fraction
) -> tuple[list[ChosenPart], Fraction]:
    """Take the parts (price, start, end, index) in (price, start) order until `needed_us` is covered.

    Returns the chosen parts and the time still missing (0 when covered).
    """
    chosen: list[ChosenPart] = []
    remaining = needed_us
    for _price, start, end, index in sorted(parts, key=lambda part: (part[0], part[1])):
        if remaining <= 0:
            break
        length_us = (end - start) // MICROSECOND
        if remaining >= length_us:
            chosen.append(ChosenPart(index, start, end, len(chosen) + 1))
            remaining -= length_us
            continue
        minutes = math.ceil(remaining / US_PER_MINUTE)
        used_us = min(minutes * US_PER_MINUTE, length_us)
        chosen.append(ChosenPart(index, start, start + timedelta(microseconds=used_us), len(chosen) + 1))
        remaining = Fraction(0)
    return chosen, max(remaining, Fraction(0))


def select_parts(
    curve: PriceCurve,
    *,
    now: datetime,
    ready_by: datetime,
    energy_needed_kwh: float,
    power_kw: float,
    price_threshold_eur_kwh: float | None,
) -> ReadyBySelection:
    """Apply the rule (module docstring) to `curve`: the cheapest parts that hold the energy before `ready_by`."""
    _check_inputs(energy_needed_kwh, power_kw, price_threshold_eur_kwh)
    now, ready_by = require_aware(now, "now"), require_aware(ready_by, "ready_by")
    slots = curve.slots
    window = _window(slots, now, ready_by)
    threshold = price_threshold_eur_kwh
    parts = [
        (slot.price_eur_kwh, max(slot.start, now), min(slot.end, ready_by), index)
        for index in window
        for slot in (slots[index],)
        if threshold is None or slot.price_eur_kwh <= threshold
    ]
    needed_us = exact(energy_needed_kwh) / exact(power_kw) * US_PER_HOUR
    chosen, missing_us = _choose(parts, needed_us)
    energy_kwh = [power_kw * part.duration_us / US_PER_HOUR for part in chosen]
    summary = EnergySummary(
        energy_needed_kwh=energy_needed_kwh,
        energy_planned_kwh=sum(energy_kwh),
        energy_missing_kwh=float(missing_us * exact(power_kw) / US_PER_HOUR),
        cost_eur=sum(slots[part.slot_index].price_eur_kwh * kwh for part, kwh in zip(chosen, energy_kwh, strict=True)),
        ready_by=ready_by,
        power_kw=power_kw,
    )
    return ReadyBySelection(curve, now, ready_by, threshold, tuple(chosen), window, summary)


def _local(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).isoformat(timespec="minutes")


def shortfall_warning(selection: ReadyBySelection, tz: tzinfo) -> str | None:
    """Why the plan is short of energy, in words; None when it is complete."""
    energy = selection.energy
    if energy.energy_missing_kwh <= 0:
        return None
    text = (
        f"{energy.energy_missing_kwh:.3f} kWh of the {energy.energy_needed_kwh:g} kWh needed by "
        f"{_local(selection.ready_by, tz)} cannot be planned"
    )
    reasons = []
    if selection.ready_by <= selection.now:
        reasons.append("the departure is not after now")
    cap = selection.price_threshold_eur_kwh
    if cap is not None and any(selection.curve.slots[i].price_eur_kwh > cap for i in selection.in_window):
        reasons.append(f"slots above the {cap:g} EUR/kWh cap are not used")
    end = selection.curve.end
    if selection.ready_by > selection.now and (end is None or end < selection.ready_by):
        reasons.append("no prices yet" if end is None else f"prices are known only until {_local(end, tz)}")
    return text + (": " + "; ".join(reasons) if reasons else "")


def _missing_inputs(request: PlanRequest) -> list[str]:
    names = {"ready_by": request.ready_by, "energy_needed_kwh": request.energy_needed_kwh, "power_kw": request.power_kw}
    return [name for name, value in names.items() if value is None]


def plan(request: PlanRequest) -> Plan:
    """The ready-by plan: the chosen parts as periods (at the request's current), the energy summary, the reasons.

    Without a departure, an energy need or a power in the request the plan is empty and says what is missing.
    `threshold_active`: the cap excluded at least one part of the window; `no_eligible_slots`: the window has
    parts and the cap excluded every one of them.
    """
    missing = _missing_inputs(request)
    if request.ready_by is None or request.energy_needed_kwh is None or request.power_kw is None:
        return Plan(periods=(), warnings=(f"ready-by plan needs {', '.join(missing)}: not charging",))
    selection = select_parts(
        request.prices,
        now=request.now,
        ready_by=request.ready_by,
        energy_needed_kwh=request.energy_needed_kwh,
        power_kw=request.power_kw,
        price_threshold_eur_kwh=request.price_threshold_eur_kwh,
    )
    cap = request.price_threshold_eur_kwh
    window_prices = [request.prices.slots[index].price_eur_kwh for index in selection.in_window]
    above = sum(1 for price in window_prices if cap is not None and price > cap)
    warning = shortfall_warning(selection, request.timezone)
    return Plan(
        periods=merge_periods(Period(part.start, part.end, request.max_current_a) for part in selection.chosen),
        threshold_active=above > 0,
        no_eligible_slots=0 < above == len(window_prices),
        warnings=() if warning is None else (warning,),
        explanation=explain_days(selection.verdicts, request.timezone),
        energy=selection.energy,
    )


POLICY = StandalonePolicy(POLICY_NAME, plan)
"""The policy the core registers as `ready-by`."""
