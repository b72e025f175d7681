"""Growing delays for the long-lived loops that retry: reconnecting to the broker, bringing up a device type
whose cloud is down, pausing after a refused login. (One HTTP request's retries use tenacity.)

    for delay_s in Backoff(first_s=1, max_s=60, jitter=0.5).delays():
        if try_once():
            break
        await clock.sleep(delay_s)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays that start at `first_s` and grow by `factor` up to `max_s` (which also caps the first); `jitter`
    shortens each by up to that fraction, at random, so that many clients do not retry in step."""

    first_s: float
    max_s: float
    factor: float = 2.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if not (self.first_s > 0 and self.max_s > 0):
            raise ValueError(f"Backoff needs positive delays, got first_s {self.first_s} and max_s {self.max_s}")
        if self.factor < 1 or not 0 <= self.jitter <= 1:
            raise ValueError("Backoff needs factor >= 1 and 0 <= jitter <= 1")

    def delays(self, random_fraction: Callable[[], float] = random.random) -> Iterator[float]:
        """The delays, without end: first_s, first_s × factor, … capped at max_s, each less up to its jitter."""
        delay_s = min(self.first_s, self.max_s)
        while True:
            yield delay_s * (1 - self.jitter * random_fraction())
            delay_s = min(delay_s * self.factor, self.max_s)

    def after(self, failures: int) -> float:
        """The delay after `failures` failures in a row (1 → first_s), without jitter."""
        if failures < 1:
            return 0.0
        return min(self.first_s * self.factor ** min(failures - 1, 64), self.max_s)
