"""What the policies share to explain a plan per local calendar day: the split at each local midnight, the
local ISO text of a moment, and the `{"days": [...]}` explanation built only when somebody reads it."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, TypeVar

from energy_agent.api.planning import DayJson

T = TypeVar("T")


def split_local_days(
    items: tuple[T, ...], tz: tzinfo, start_of: Callable[[T], datetime]
) -> Iterator[tuple[date, tuple[T, ...]]]:
    """Group `items` (sorted by `start_of`) into local calendar days by searching for each next midnight.

    An item belongs to the day its start falls on, so a DST day has 23 or 25 hours of items.
    """
    index = 0
    while index < len(items):
        day = start_of(items[index]).astimezone(tz).date()
        # a midnight that does not exist (DST gap) resolves, with fold=0, to the instant of the jump
        next_midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
        end = bisect.bisect_left(items, next_midnight, lo=index + 1, key=start_of)
        yield day, items[index:end]
        index = end


def local_iso(moment: datetime, tz: tzinfo) -> str:
    """`moment` in `tz` as ISO 8601 to the second."""
    local = moment.astimezone(tz)
    # the plain isoformat() is the faster one and gives the same text when there are no microseconds
    return local.isoformat() if local.microsecond == 0 else local.isoformat(timespec="seconds")


class DaysExplanation(Mapping[str, Any]):
    """`{"days": [...]}`, built on first read and then kept: formatting every slot's times costs more than
    planning them, and most plans are applied, not shown.

    A Mapping, not a dict: pass `dict(explanation)` (or `explanation["days"]`) to `json.dumps`.
    """

    __slots__ = ("_build", "_data", "_label")

    def __init__(self, build: Callable[[], list[DayJson]], label: str) -> None:
        self._build = build
        self._label = label
        self._data: dict[str, list[DayJson]] | None = None

    def _built(self) -> dict[str, list[DayJson]]:
        if self._data is None:
            self._data = {"days": self._build()}
        return self._data

    def __getitem__(self, key: str) -> list[DayJson]:
        return self._built()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(("days",))

    def __len__(self) -> int:
        return 1

    def __repr__(self) -> str:
        return f"DaysExplanation({self._label})"
