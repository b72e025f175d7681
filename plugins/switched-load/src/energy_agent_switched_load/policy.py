"""Standalone policy `cheapest-hours`: per local day, run in the N cheapest clock hours at or below a cap.

Price slots (hourly or finer) are grouped into the local clock hour they start in; an hour's price is the
time-weighted mean of its slots. An hour with any slot priced above the cap is never chosen (the cap is a
promise about every slot, not about an average). Of the remaining hours of each local day the
`hours_per_day` cheapest are chosen; equal prices (to 6 decimals) go to the earlier hour. The whole day is
always planned, so the plan does not drift as the day passes; callers drop periods that have ended.

Pure: no I/O, no clock. Slot and period times are UTC, like every domain type; the explanation shows
them in the request's zone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from energy_agent.api import Period, Plan, PlanRequest, PriceCurve, PriceSlot, StandalonePolicy, merge_periods

POLICY_NAME = "cheapest-hours"
DEFAULT_HOURS_PER_DAY = 4
PRICE_DECIMALS = 6
"""Hour prices are compared (and shown) rounded to this many decimals, so float noise does not break ties."""

SELECTED = "selected"
ABOVE_CAP = "above_threshold"
NOT_CHOSEN = "not_in_top_x"
"""Slot verdicts, in the words of the `energy-agent plan` report."""


@dataclass(frozen=True)
class CheapestHoursOptions:
    """The policy's own settings, read from `PlanRequest.options` (a load's `policy_options`)."""

    hours_per_day: int = DEFAULT_HOURS_PER_DAY
    price_cap_eur_kwh: float | None = None
    """None: use the core's `price_threshold` from the request."""

    def __post_init__(self) -> None:
        if isinstance(self.hours_per_day, bool) or not isinstance(self.hours_per_day, int):
            raise ValueError(f"hours_per_day must be an integer, got {self.hours_per_day!r}")
        if not 0 <= self.hours_per_day <= 24:
            raise ValueError(f"hours_per_day must be within 0..24, got {self.hours_per_day}")
        cap = self.price_cap_eur_kwh
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int | float) or not math.isfinite(cap)):
            raise ValueError(f"price_cap_eur_kwh must be a finite number or null, got {cap!r}")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> CheapestHoursOptions:
        """Read the known keys; absent keys keep their defaults, unknown keys are ignored."""
        return cls(
            hours_per_day=options.get("hours_per_day", DEFAULT_HOURS_PER_DAY),
            price_cap_eur_kwh=options.get("price_cap_eur_kwh"),
        )


@dataclass(frozen=True)
class Hour:
    """The price slots starting in one local clock hour, and their time-weighted mean price."""

    start: datetime
    """Start of the clock hour (UTC)."""
    slots: tuple[PriceSlot, ...]
    price_eur_kwh: float
    """Time-weighted mean of the slots' prices, rounded to PRICE_DECIMALS."""

    @property
    def max_price_eur_kwh(self) -> float:
        """The highest slot price in the hour."""
        return max(slot.price_eur_kwh for slot in self.slots)


@dataclass(frozen=True)
class HourVerdict:
    """One hour and whether it was chosen; `rank` (1 = cheapest chosen) only when selected."""

    hour: Hour
    status: str
    rank: int | None = None


@dataclass(frozen=True)
class DaySelection:
    """The verdicts for one local calendar day that has prices."""

    date: date
    hours: tuple[HourVerdict, ...]

    @property
    def selected(self) -> tuple[HourVerdict, ...]:
        """The chosen hours, cheapest first."""
        return tuple(sorted((v for v in self.hours if v.status == SELECTED), key=lambda v: v.rank or 0))

    @property
    def excluded_by_cap(self) -> int:
        """How many hours the cap excluded."""
        return sum(1 for v in self.hours if v.status == ABOVE_CAP)

    @property
    def eligible(self) -> int:
        """How many hours are at or below the cap."""
        return len(self.hours) - self.excluded_by_cap

    @property
    def end(self) -> datetime:
        """End of the day's last slot."""
        return self.hours[-1].hour.slots[-1].end


def _hour_start(slot: PriceSlot, tz: tzinfo) -> datetime:
    local = slot.start.astimezone(tz)
    # fold is kept, so the two 02:00 hours of a DST change stay two hours
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def _mean_price(slots: Sequence[PriceSlot]) -> float:
    total_s = sum((s.end - s.start).total_seconds() for s in slots)
    weighted = sum(s.price_eur_kwh * (s.end - s.start).total_seconds() for s in slots)
    return round(weighted / total_s, PRICE_DECIMALS)


def hours_of(curve: PriceCurve, tz: tzinfo) -> list[Hour]:
    """Group the curve's slots by the local clock hour they start in, in time order."""
    groups: dict[datetime, list[PriceSlot]] = {}
    for slot in curve.slots:
        groups.setdefault(_hour_start(slot, tz), []).append(slot)
    return [Hour(start, tuple(slots), _mean_price(slots)) for start, slots in groups.items()]


def select_day(day: date, hours: Sequence[Hour], *, hours_per_day: int, cap_eur_kwh: float | None) -> DaySelection:
    """Choose the `hours_per_day` cheapest hours of one day at or below the cap (None: no cap)."""
    eligible = [h for h in hours if cap_eur_kwh is None or h.max_price_eur_kwh <= cap_eur_kwh]
    chosen = sorted(eligible, key=lambda h: (h.price_eur_kwh, h.start))[:hours_per_day]
    rank_of = {h.start: rank for rank, h in enumerate(chosen, start=1)}
    eligible_starts = {h.start for h in eligible}
    verdicts = tuple(
        HourVerdict(h, SELECTED, rank_of[h.start])
        if h.start in rank_of
        else HourVerdict(h, NOT_CHOSEN if h.start in eligible_starts else ABOVE_CAP)
        for h in hours
    )
    return DaySelection(day, verdicts)


def select_hours(curve: PriceCurve, *, tz: tzinfo, hours_per_day: int, cap_eur_kwh: float | None) -> list[DaySelection]:
    """Plan every local day of `curve`: its cheapest hours at or below the cap (an hour counts on its start day)."""
    by_day: dict[date, list[Hour]] = {}
    for hour in hours_of(curve, tz):
        by_day.setdefault(hour.start.astimezone(tz).date(), []).append(hour)
    return [
        select_day(day, hours, hours_per_day=hours_per_day, cap_eur_kwh=cap_eur_kwh) for day, hours in by_day.items()
    ]


def _periods(verdicts: Iterable[HourVerdict]) -> tuple[Period, ...]:
    return merge_periods(Period(s.start, s.end) for v in verdicts if v.status == SELECTED for s in v.hour.slots)


def _iso(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).isoformat(timespec="seconds")


def day_json(day: DaySelection, tz: tzinfo) -> dict[str, Any]:
    """The day as `energy-agent plan --json` prints it: every slot with its hour's verdict and rank."""
    return {
        "date": day.date.isoformat(),
        "threshold_active": day.excluded_by_cap > 0,
        "excluded_by_threshold": sum(len(v.hour.slots) for v in day.hours if v.status == ABOVE_CAP),
        "no_eligible_slots": day.eligible == 0,
        "levels": sorted({v.hour.price_eur_kwh for v in day.selected}),
        "slots": [
            {
                "start": _iso(slot.start, tz),
                "end": _iso(slot.end, tz),
                "price": slot.price_eur_kwh,
                "status": verdict.status,
                "rank": verdict.rank,
            }
            for verdict in day.hours
            for slot in verdict.hour.slots
        ],
        "periods": [{"start": _iso(p.start, tz), "end": _iso(p.end, tz)} for p in _periods(day.hours)],
    }


def _warnings(days: Sequence[DaySelection], now: datetime, hours_per_day: int, cap: float | None) -> tuple[str, ...]:
    warnings = []
    for day in days:
        if day.end <= now or day.eligible >= hours_per_day:
            continue
        where = f"at or below the {cap:g} EUR/kWh cap" if cap is not None else "with prices"
        if day.eligible == 0:
            warnings.append(f"no hour {where} on {day.date.isoformat()}: the load does not run that day")
        else:
            warnings.append(
                f"only {day.eligible} hour(s) {where} on {day.date.isoformat()}: "
                f"the load runs {day.eligible} of {hours_per_day} hours"
            )
    return tuple(warnings)


def plan(request: PlanRequest) -> Plan:
    """The standalone plan: the chosen hours of every day (ended ones too), with per-slot explanations.

    `threshold_active` and `no_eligible_slots` describe the local day containing `request.now`; a warning
    is given for each day not yet over that has fewer eligible hours than asked for.
    """
    options = CheapestHoursOptions.from_options(request.options)
    cap = options.price_cap_eur_kwh if options.price_cap_eur_kwh is not None else request.price_threshold_eur_kwh
    days = select_hours(request.prices, tz=request.timezone, hours_per_day=options.hours_per_day, cap_eur_kwh=cap)
    today = request.now.astimezone(request.timezone).date()
    current = next((day for day in days if day.date == today), None)
    return Plan(
        periods=merge_periods(p for day in days for p in _periods(day.hours)),
        threshold_active=current is not None and current.excluded_by_cap > 0,
        no_eligible_slots=current is not None and current.eligible == 0,
        warnings=_warnings(days, request.now, options.hours_per_day, cap),
        explanation={
            "policy": POLICY_NAME,
            "hours_per_day": options.hours_per_day,
            "price_cap_eur_kwh": cap,
            "days": [day_json(day, request.timezone) for day in days],
        },
    )


POLICY = StandalonePolicy(POLICY_NAME, plan)
"""The policy this plugin registers."""
