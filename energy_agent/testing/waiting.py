"""Waiting in tests for work that crosses real sockets (broker, HTTP), which a ManualClock cannot hurry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait in real time until `condition()` holds; TimeoutError after `timeout_s`."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.005)
