"""The `ready-by` plan explained per local calendar day, in the `DayJson` shape the default policy uses.

Every slot of the curve is shown with its verdict (selected, above_threshold, outside_window, not_needed),
its rank (the order its part was chosen in) and the energy planned in it. A slot belongs to the local day
its start falls on, so a DST day has 23 or 25 hours of slots.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from energy_agent.api.domain import PriceSlot
from energy_agent.api.planning import DayJson, PeriodJson, SlotJson, SlotStatus

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


def split_days(verdicts: Sequence[SlotVerdict], tz: tzinfo) -> Iterator[tuple[date, Sequence[SlotVerdict]]]:
    """Group verdicts (sorted by start) into local calendar days by searching for each next midnight."""
    index = 0
    while index < len(verdicts):
        day = verdicts[index].slot.start.astimezone(tz).date()
        # a midnight that does not exist (DST gap) resolves, with fold=0, to the instant of the jump
        next_midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
        end = bisect.bisect_left(verdicts, next_midnight, lo=index + 1, key=_start_of)
        yield day, verdicts[index:end]
        index = end


def _iso(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).isoformat(timespec="seconds")


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
    return [{"start": _iso(start, tz), "end": _iso(end, tz)} for start, end in runs]


def day_json(day: date, verdicts: Sequence[SlotVerdict], tz: tzinfo) -> DayJson:
    """One local day: every slot with its verdict, the cap's effect, and the periods used (`levels` is empty)."""
    slots: list[SlotJson] = [
        {
            "start": _iso(verdict.slot.start, tz),
            "end": _iso(verdict.slot.end, tz),
            "price": verdict.slot.price_eur_kwh,
            "status": verdict.status.value,
            "rank": verdict.rank,
            "energy_kwh": round(verdict.energy_kwh, ENERGY_DECIMALS),
        }
        for verdict in verdicts
    ]
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


class ReadyByExplanation(Mapping[str, Any]):
    """`{"days": [...]}` built on first read from a verdicts function, then kept (most plans are not shown)."""

    __slots__ = ("_data", "_tz", "_verdicts")

    def __init__(self, verdicts: Callable[[], Sequence[SlotVerdict]], tz: tzinfo) -> None:
        self._verdicts = verdicts
        self._tz = tz
        self._data: dict[str, list[DayJson]] | None = None

    def _built(self) -> dict[str, list[DayJson]]:
        if self._data is None:
            verdicts = self._verdicts()
            self._data = {"days": [day_json(day, items, self._tz) for day, items in split_days(verdicts, self._tz)]}
        return self._data

    def __getitem__(self, key: str) -> list[DayJson]:
        return self._built()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(("days",))

    def __len__(self) -> int:
        return 1

    def __repr__(self) -> str:
        return "ReadyByExplanation(days)"
