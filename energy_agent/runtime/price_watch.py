"""Tells the agent when what its price source's health shows has changed, so statuses and entities follow.

The report (`energy_agent.prices.health`) changes when the source delivers or fails, and also as time passes
(prices run out, tomorrow's are overdue): the watch re-checks after every delivery and every `interval_s`,
and emits `AgentChanged("prices")` whenever the report differs from the last one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import tzinfo

from energy_agent.api.clock import Clock
from energy_agent.prices.board import PriceBoard
from energy_agent.prices.health import PriceReport, board_report
from energy_agent.runtime.events import AgentChanged, Events

log = logging.getLogger(__name__)
PRICES_CHANGED = "prices"
"""The `AgentChanged` reason the watch emits."""


class PriceWatch:
    """See the module docstring; a service of the agent (`start`, `stop`)."""

    name = "price health watch"

    def __init__(self, *, board: PriceBoard, clock: Clock, zone: tzinfo, events: Events, interval_s: float = 60.0):
        self._board = board
        self._clock = clock
        self._zone = zone
        self._events = events
        self._interval_s = interval_s
        self._last: PriceReport | None = None
        self._task: asyncio.Task[None] | None = None
        board.on_health(self.check)

    @property
    def report(self) -> PriceReport:
        """The report as of now."""
        return board_report(self._board, self._clock.now(), self._zone)

    def check(self) -> None:
        """Emit `AgentChanged("prices")` when the report differs from the last one seen."""
        report = self.report
        if report != self._last:
            if self._last is not None and report.warnings != self._last.warnings:
                for warning in report.warnings:
                    log.warning("%s", warning)
            self._last = report
            self._events.emit(AgentChanged(PRICES_CHANGED))

    async def start(self) -> None:
        """Re-check every `interval_s` until stopped."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="price watch")

    async def stop(self) -> None:
        """Stop re-checking."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            self.check()
            await self._clock.sleep(self._interval_s)
