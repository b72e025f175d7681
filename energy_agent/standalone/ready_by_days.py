"""The `ready-by` plan explained per local calendar day, in the `DayJson` shape the default policy uses.

Every slot of the curve is shown with its verdict (selected, above_threshold, outside_window, not_needed),
its rank (the order its part was chosen in) and the energy planned in it. A slot belongs to the local day
its start falls on, so a DST day has 23 or 25 hours of slots.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from energy_agent.api.domain import PriceSlot
from energy_agent.api.planning import DayJson, PeriodJson, SlotJson, SlotStatus
from energy_agent.standalone.local_days import DaysExplanation, local_iso, split_local_days

ENERGY_DECIMALS = 6
"""Per-slot energy in the JSON is rounded to this many decimals (a milliwatt-hour)."""


@dataclass(frozen=True, slots=True)
class SlotVerdict:
    """One price slot, its verdict, the order its part was chosen in, and the energy planned in it."""

    slot: PriceSlot
    status: SlotStatus
    rank: int | None = None
    energy_kwh: float = 0.0
    used_from: datetime | None = None
    """Start of the part used when the slot is selected (UTC): the slot's start, or now."""
    used_until: datetime | None = None
    """End of the part used when the slot is selected (UTC): the slot's end, the departure, or a minute mark."""


def _start_of(verdict: SlotVerdict) -> datetime:
    return verdict.slot.start


def _periods(verdicts: Sequence[SlotVerdict], tz: tzinfo) -> list[PeriodJson]:
    """Runs of touching used parts of the day, merged."""
    runs: list[list[datetime]] = []
    for verdict in verdicts:
        if verdict.used_from is None or verdict.used_until is None:
            continue
        if runs and runs[-1][1] == verdict.used_from:
            runs[-1][1] = verdict.used_until
        else:
            runs.append([verdict.used_from, verdict.used_until])
    return [{"start": local_iso(start, tz), "end": local_iso(end, tz)} for start, end in runs]


def _slot_json(verdict: SlotVerdict, tz: tzinfo) -> SlotJson:
    """One slot and its verdict; `spot_price` beside `price` when the slot carries a spot price."""
    slot = verdict.slot
    entry: SlotJson = {
        "start": local_iso(slot.start, tz),
        "end": local_iso(slot.end, tz),
        "price": slot.price_eur_kwh,
        "status": verdict.status.value,
        "rank": verdict.rank,
        "energy_kwh": round(verdict.energy_kwh, ENERGY_DECIMALS),
    }
    if slot.spot_eur_kwh is not None:
        entry["spot_price"] = slot.spot_eur_kwh
    return entry


def day_json(day: date, verdicts: Sequence[SlotVerdict], tz: tzinfo) -> DayJson:
    """One local day: every slot with its verdict, the cap's effect, and the periods used (`levels` is empty)."""
    slots = [_slot_json(verdict, tz) for verdict in verdicts]
    excluded = sum(1 for verdict in verdicts if verdict.status is SlotStatus.ABOVE_THRESHOLD)
    usable = sum(1 for verdict in verdicts if verdict.status in (SlotStatus.SELECTED, SlotStatus.NOT_NEEDED))
    return {
        "date": day.isoformat(),
        "threshold_active": excluded > 0,
        "excluded_by_threshold": excluded,
        "no_eligible_slots": excluded > 0 and usable == 0,
        "levels": [],
        "slots": slots,
        "periods": _periods(verdicts, tz),
    }


def explain_days(verdicts: Callable[[], Sequence[SlotVerdict]], tz: tzinfo) -> DaysExplanation:
    """The per-day explanation of the verdicts `verdicts()` returns, built on first read."""

    def build() -> list[DayJson]:
        return [day_json(day, items, tz) for day, items in split_local_days(tuple(verdicts()), tz, _start_of)]

    return DaysExplanation(build, "ready-by")
