"""Ordered execution: jobs run one at a time, in the order they were submitted.

`submit` is a plain (not async) call, so a job's place in line is fixed the moment a command arrives, before
anything awaits: two commands that arrive 0.3 s apart take effect in that order, however long the first one's
device write takes. Every device has a queue for its writes; the agent has one for mode changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class SerialQueue:
    """Runs submitted jobs one after another; each `submit` returns a future of its job's result."""

    def __init__(self) -> None:
        self._tail: asyncio.Future[object] | None = None

    def submit(self, job: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        """Queue `job`; it starts once every job submitted before it has finished (failed or not)."""
        previous = self._tail

        async def run() -> T:
            if previous is not None and not previous.done():
                # only the order matters: a failed or cancelled predecessor does not stop this job (wait() does
                # not raise the predecessor's error, and a cancellation of this job still ends it here)
                await asyncio.wait([previous])
            return await job()

        task: asyncio.Future[T] = asyncio.ensure_future(run())
        self._tail = task  # type: ignore[assignment]
        return task
