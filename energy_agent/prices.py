"""Price curves from outside: strict parsing, a freshness check, and the board that keeps the last good curve.

Every price source delivers `{start, end, price}` lists (what the Home Assistant energy-prices add-on
publishes in its `price_curve` attribute); they all go through `parse_price_curve`, so a malformed item
is reported the same way wherever it came from, as `where[i].field: problem`.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from energy_agent.clock import Clock
from energy_agent.domain import PriceCurve, PriceSlot, isoformat
from energy_agent.errors import PriceDataError

log = logging.getLogger(__name__)

MAX_PRICE_SLOTS = 100_000
"""More slots than this is not a price curve (a year of quarter hours is 35,040)."""
MAX_REPORTED_PROBLEMS = 10
"""An error message lists at most this many problems, then says how many more there were."""
CURVE_KEY = "price_curve"


def _parse_time(item: Mapping[str, Any], field: str, where: str, problems: list[str]) -> datetime | None:
    if field not in item:
        problems.append(f"{where}.{field}: missing")
        return None
    raw = item[field]
    if not isinstance(raw, str):
        problems.append(f"{where}.{field}: not an ISO 8601 time (got {type(raw).__name__})")
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        problems.append(f"{where}.{field}: not an ISO 8601 time ({raw[:40]!r})")
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        problems.append(f"{where}.{field}: no UTC offset ({raw[:40]!r})")
        return None
    return value


def _parse_price(item: Mapping[str, Any], where: str, problems: list[str]) -> float | None:
    if "price" not in item:
        problems.append(f"{where}.price: missing")
        return None
    raw = item["price"]
    # bool is an int subclass; `true` is never a price
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        problems.append(f"{where}.price: not a number (got {type(raw).__name__})")
        return None
    value = float(raw)
    if not math.isfinite(value):
        problems.append(f"{where}.price: not a finite number ({raw!r})")
        return None
    return value


def _fail(problems: list[str]) -> PriceDataError:
    shown = problems[:MAX_REPORTED_PROBLEMS]
    if len(problems) > MAX_REPORTED_PROBLEMS:
        shown.append(f"... and {len(problems) - MAX_REPORTED_PROBLEMS} more problems")
    return PriceDataError("invalid price data: " + "; ".join(shown))


def parse_price_curve(data: object, *, where: str = CURVE_KEY) -> PriceCurve:
    """Validate a `{start, end, price}` list (or an object holding it under `price_curve`) into a curve.

    Times must be ISO 8601 with a UTC offset, prices finite numbers in EUR/kWh. Slots are sorted;
    duplicates and overlaps are errors. Raises PriceDataError naming each fault as `where[i].field: problem`.
    """
    if isinstance(data, Mapping):
        if CURVE_KEY not in data:
            raise PriceDataError(f"invalid price data: {where}: an object without a {CURVE_KEY!r} list")
        data = data[CURVE_KEY]
    if not isinstance(data, list):
        raise PriceDataError(
            f"invalid price data: {where}: expected a list of {{start, end, price}} objects, got {type(data).__name__}"
        )
    if len(data) > MAX_PRICE_SLOTS:
        raise PriceDataError(f"invalid price data: {where}: {len(data)} slots, more than the {MAX_PRICE_SLOTS} allowed")
    problems: list[str] = []
    parsed: list[tuple[int, PriceSlot]] = []
    for index, item in enumerate(data):
        item_where = f"{where}[{index}]"
        if not isinstance(item, Mapping):
            problems.append(f"{item_where}: expected an object with start, end, price (got {type(item).__name__})")
            continue
        start = _parse_time(item, "start", item_where, problems)
        end = _parse_time(item, "end", item_where, problems)
        price = _parse_price(item, item_where, problems)
        if start is None or end is None or price is None:
            continue
        if not start < end:
            problems.append(f"{item_where}.end: not after start ({item['end']} <= {item['start']})")
            continue
        parsed.append((index, PriceSlot(start=start, end=end, price_eur_kwh=price)))
    if problems:
        raise _fail(problems)
    parsed.sort(key=lambda pair: pair[1].start)
    if parsed:
        # compare with the slot reaching furthest so far: a long slot can overlap several later ones
        reach_index, reach = parsed[0]
        for later_index, later in parsed[1:]:
            if later.start < reach.end:
                kind = "duplicates" if (later.start, later.end) == (reach.start, reach.end) else "overlaps"
                problems.append(f"{where}[{later_index}].start: {kind} {where}[{reach_index}]")
            if later.end > reach.end:
                reach_index, reach = later_index, later
    if problems:
        raise _fail(problems)
    return PriceCurve(tuple(slot for _, slot in parsed))


def curve_freshness(curve: PriceCurve | None, now: datetime, min_ahead_s: float = 3 * 3600) -> str | None:
    """A warning when the curve is unusable at `now` (nothing covers now, or it ends within `min_ahead_s`); else None.

    A stale curve means: do not charge on it.
    """
    if curve is None or not curve.slots:
        return "no price data: not charging until prices arrive"
    slots = curve.slots
    # slots are sorted and disjoint, so the only candidate is the last one starting at or before now
    index = bisect.bisect_right(slots, now, key=lambda slot: slot.start) - 1
    if index < 0 or not now < slots[index].end:
        return (
            f"prices are stale: no price slot covers {isoformat(now)} "
            f"(prices run {isoformat(slots[0].start)} to {isoformat(slots[-1].end)}); not charging"
        )
    last_end = slots[-1].end
    if last_end < now + timedelta(seconds=min_ahead_s):
        ahead_h = min_ahead_s / 3600
        return f"prices are stale: they end at {isoformat(last_end)}, less than {ahead_h:g} h ahead; not charging"
    return None


CurveListener = Callable[[PriceCurve], Awaitable[None]]
"""Awaited with each new curve."""


class PriceBoard:
    """Holds the last good price curve; a `PriceSink` for the sources and a notifier for planners.

    A failed fetch leaves the curve in place and only records `last_error`. Listeners are awaited one by
    one on each curve that differs from the previous one; a failing listener is logged, not propagated.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock
        self._curve: PriceCurve | None = None
        self._listeners: list[CurveListener] = []
        self.last_error: str | None = None
        """The most recent source problem, cleared when a valid curve arrives."""
        self.updated_at: datetime | None = None
        """When the curve last changed (only with a clock)."""
        self.error_at: datetime | None = None
        """When `last_error` was recorded (only with a clock)."""

    @property
    def curve(self) -> PriceCurve | None:
        """The last good curve, or None before the first one."""
        return self._curve

    def subscribe(self, callback: CurveListener) -> Callable[[], None]:
        """Await `callback(curve)` on every changed curve; returns a function that unsubscribes."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    async def update(self, curve: PriceCurve) -> None:
        """Take a valid curve; notify listeners when it differs from the one held."""
        self.last_error = None
        self.error_at = None
        if curve == self._curve:
            return
        self._curve = curve
        if self._clock is not None:
            self.updated_at = self._clock.now()
        log.info(
            "new price curve: %d slots from %s to %s",
            len(curve.slots),
            isoformat(curve.slots[0].start) if curve.slots else "-",
            isoformat(curve.end),
        )
        for listener in list(self._listeners):
            try:
                await listener(curve)
            except Exception:  # one broken listener must not starve the others
                log.exception("price curve listener %r failed", listener)

    def error(self, message: str) -> None:
        """Record a source problem; the last good curve stays in use."""
        self.last_error = message
        if self._clock is not None:
            self.error_at = self._clock.now()
        # the source has logged it; the board only keeps it for the status entities
        log.debug("price problem recorded: %s", message)
