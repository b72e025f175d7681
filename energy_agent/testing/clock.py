"""A clock for tests: time moves only when the test says so."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta


async def _settle(rounds: int = 20) -> None:
    """Let woken tasks run until they block again (on I/O or on the clock)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class ManualClock:
    """A clock that only moves when a test calls `advance`; sleepers wake when their time is reached."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    def now(self) -> datetime:
        """The clock's current time."""
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Wait until `advance` has moved the clock by `seconds`."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + timedelta(seconds=seconds), next(self._counter), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move the clock forward, waking each sleeper in deadline order and letting it run.

        Tasks that are ready run first, so that they reach their sleeps before time moves.
        """
        await _settle()
        target = self._now + timedelta(seconds=seconds)
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
            await _settle()
        self._now = target
        await _settle()

    def set(self, when: datetime) -> None:
        """Jump to `when` without waking sleepers (for setting up a scenario)."""
        self._now = when.astimezone(UTC)
