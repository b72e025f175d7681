"""Injected time: every component that needs "now" or a sleep takes a `Clock`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Source of the current time and of sleeps measured against it."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait until `seconds` have passed on this clock."""
        ...


class SystemClock:
    """The wall clock and real sleeps."""

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop."""
        await asyncio.sleep(max(0.0, seconds))


async def sleep_or_until(clock: Clock, seconds: float, wake: asyncio.Event) -> None:
    """Sleep `seconds` on `clock`, or less when `wake` is set first (it is left set: the caller clears it)."""
    sleeper = asyncio.ensure_future(clock.sleep(max(seconds, 0.0)))
    waker = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait([sleeper, waker], return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        waker.cancel()
