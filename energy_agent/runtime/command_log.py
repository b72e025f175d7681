"""The last commands the agent answered, newest first: a small ring buffer for the web page and the demo.

It hears `CommandAnswered`, so every answer the agent publishes (a HEMS schedule set or clear, a mode command,
refusals included) is kept with the time it was given; the oldest fall out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from energy_agent.api.clock import Clock
from energy_agent.runtime.events import CommandAnswered, Events

KEPT = 20
"""Answers kept."""


@dataclass(frozen=True, slots=True)
class AnsweredCommand:
    """One answer as it was published."""

    at: datetime
    key: str | None
    """The device the command was for; None for an agent-wide command (the mode)."""
    answer: dict[str, Any]


class CommandLog:
    """The last `KEPT` answers; listens from construction on."""

    def __init__(self, clock: Clock, events: Events, size: int = KEPT) -> None:
        self._clock = clock
        self._entries: deque[AnsweredCommand] = deque(maxlen=size)
        events.subscribe(CommandAnswered, self._heard)

    def _heard(self, event: CommandAnswered) -> None:
        self._entries.append(AnsweredCommand(self._clock.now(), event.key, event.payload))

    def newest_first(self) -> list[AnsweredCommand]:
        """The answers kept, the newest first."""
        return list(reversed(self._entries))
