"""The price curve in use: a freshness check, and the board that keeps the last good curve."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from energy_agent.api.clock import Clock
from energy_agent.api.domain import PriceCurve, isoformat

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

    A failed fetch leaves the curve in place and only records `last_error`. Listeners are awaited one by
    one on each curve that differs from the previous one; a failing listener is logged, not propagated.
    """

    def __init__(self, clock: Clock | None = None, *, source: str | None = None) -> None:
        self._clock = clock
        self._curve: PriceCurve | None = None
        self._listeners: list[CurveListener] = []
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

    async def update(self, curve: PriceCurve) -> None:
        """Take a valid curve; notify listeners when it differs from the one held."""
        self.last_error = None
        self.error_at = None
        self._ok = True
        if self._clock is not None:
            self._success_at = self._clock.now()
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
        self._problem = message
        self._ok = False
        if self._clock is not None:
            self.error_at = self._problem_at = self._clock.now()
        # the source has logged it; the board only keeps it for the status entities
        log.debug("price problem recorded: %s", message)
