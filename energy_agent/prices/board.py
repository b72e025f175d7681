"""The price curve in use: a freshness check, and the board that keeps the last good curve.

The board merges each delivery into what it holds: a new slot replaces the old ones it overlaps (a correction
wins), old slots the new curve does not cover are kept until they end, so an empty or shorter delivery never
takes away prices the last good curve still has. Old slots that ended before today's local midnight are dropped,
which keeps the board bounded. An empty delivery is no news: it is recorded as a source problem.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from energy_agent.api.clock import Clock
from energy_agent.api.domain import PriceCurve, PriceSlot, isoformat

log = logging.getLogger(__name__)


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
HealthListener = Callable[[], None]
"""Called after each delivery or problem, once the board has taken it in (see `PriceBoard.on_health`)."""
EMPTY_DELIVERY = "the source delivered no prices; the last good prices stay in use"


def merge_curves(old: PriceCurve | None, new: PriceCurve, keep_after: datetime | None = None) -> PriceCurve:
    """`new`, plus the parts of `old`'s slots that no slot of `new` covers and that end after `keep_after`.

    A slot of `old` partly covered by `new` keeps its uncovered parts, at its price. Without `keep_after`
    nothing of `old` is dropped for its age.
    """
    if old is None or not old.slots:
        return new
    covered = new.slots
    kept: list[PriceSlot] = []
    index = 0
    for slot in old.slots:
        if keep_after is not None and slot.end <= keep_after:
            continue
        # both curves are sorted: skip the new slots ending before this one starts
        while index < len(covered) and covered[index].end <= slot.start:
            index += 1
        start = slot.start
        probe = index
        while probe < len(covered) and covered[probe].start < slot.end and start < slot.end:
            if covered[probe].start > start:
                kept.append(replace(slot, start=start, end=covered[probe].start))
            start = max(start, covered[probe].end)
            probe += 1
        if start < slot.end:
            kept.append(replace(slot, start=start))
    if not kept:
        return new
    return PriceCurve.from_slots([*kept, *new.slots])


@dataclass(frozen=True, slots=True)
class PriceHealth:
    """A read-only account of the price source, for the status payload and the health endpoint.

    Times are UTC, and None when the board has no clock. `last_error` stays after a later success (unlike
    `PriceBoard.last_error`, which the status entities clear); `ok` tells which came last.
    """

    source: str | None
    """The `prices.source` name, e.g. `entsoe`; None when not known (no source has started)."""
    ok: bool
    """True when a valid curve has arrived and no problem was reported after the last one."""
    last_success_at: datetime | None
    """When the source last delivered a valid curve, changed or not."""
    last_error: str | None
    """The source's most recent problem (sources keep secrets out of it), even if it has recovered since."""
    last_error_at: datetime | None
    """When `last_error` was reported."""
    covers_from: datetime | None
    """Start of the first slot of the curve in use."""
    covers_until: datetime | None
    """End of the last slot of the curve in use."""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (ISO 8601 times, seconds precision)."""
        return {
            "source": self.source,
            "ok": self.ok,
            "last_success_at": isoformat(self.last_success_at),
            "last_error": self.last_error,
            "last_error_at": isoformat(self.last_error_at),
            "covers_from": isoformat(self.covers_from),
            "covers_until": isoformat(self.covers_until),
        }


class PriceBoard:
    """Holds the last good price curve; a `PriceSink` for the sources and a notifier for planners.

    Each delivery is merged into the curve held (see the module docstring). A failed fetch or an empty
    delivery leaves the curve in place and only records `last_error`. Listeners are awaited one by one on each
    curve that differs from the previous one; a failing listener is logged, not propagated.
    """

    def __init__(self, clock: Clock | None = None, *, source: str | None = None, zone: tzinfo = UTC) -> None:
        self._clock = clock
        self._zone = zone
        self._curve: PriceCurve | None = None
        self._listeners: list[CurveListener] = []
        self._health_listeners: list[HealthListener] = []
        self.source = source
        """The name of the source feeding the board, for `health` (built-in sources fill it in when they start)."""
        self._ok = False
        self._success_at: datetime | None = None
        self._problem: str | None = None
        self._problem_at: datetime | None = None
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

    @property
    def health(self) -> PriceHealth:
        """The source's health as of now (see PriceHealth)."""
        slots = self._curve.slots if self._curve is not None else ()
        return PriceHealth(
            source=self.source,
            ok=self._ok,
            last_success_at=self._success_at,
            last_error=self._problem,
            last_error_at=self._problem_at,
            covers_from=slots[0].start if slots else None,
            covers_until=slots[-1].end if slots else None,
        )

    def subscribe(self, callback: CurveListener) -> Callable[[], None]:
        """Await `callback(curve)` on every changed curve; returns a function that unsubscribes."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    def on_health(self, callback: HealthListener) -> None:
        """Call `callback()` after every delivery and every problem (to re-check what the health shows)."""
        self._health_listeners.append(callback)

    def _health_changed(self) -> None:
        for listener in list(self._health_listeners):
            try:
                listener()
            except Exception:  # a broken listener must not stop the source
                log.exception("price health listener %r failed", listener)

    def _keep_after(self) -> datetime | None:
        """Old slots ending at or before this are dropped: today's local midnight (None without a clock)."""
        if self._clock is None:
            return None
        local = self._clock.now().astimezone(self._zone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)

    async def update(self, curve: PriceCurve) -> None:
        """Merge a valid curve into the one held; notify listeners when that changed it.

        An empty curve changes nothing: it is recorded as a problem (`EMPTY_DELIVERY`).
        """
        if not curve.slots:
            log.warning("%s price source: %s", self.source or "the", EMPTY_DELIVERY)
            self._record_problem(EMPTY_DELIVERY)
            return
        self.last_error = None
        self.error_at = None
        self._ok = True
        if self._clock is not None:
            self._success_at = self._clock.now()
        merged = merge_curves(self._curve, curve, self._keep_after())
        if merged == self._curve:
            self._health_changed()
            return
        if self._curve is not None and len(merged.slots) > len(curve.slots):
            log.info(
                "kept %d slot(s) of the last curve that the new one does not cover",
                len(merged.slots) - len(curve.slots),
            )
        self._curve = curve = merged
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
        self._health_changed()

    def error(self, message: str) -> None:
        """Record a source problem; the last good curve stays in use."""
        # the source has logged it; the board only keeps it for the status entities
        log.debug("price problem recorded: %s", message)
        self._record_problem(message)

    def _record_problem(self, message: str) -> None:
        self.last_error = message
        self._problem = message
        self._ok = False
        if self._clock is not None:
            self.error_at = self._problem_at = self._clock.now()
        self._health_changed()
