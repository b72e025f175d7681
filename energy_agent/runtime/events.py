"""Change notices: the agent's parts say what changed; publishers and adapters listen.

A part never calls back into whoever built it: a device runtime that wrote a schedule emits `DeviceChanged`,
and the status publisher, Home Assistant and the web page each decide what to do about it. Listeners run
synchronously and must be quick; one that needs I/O schedules it (see `StatusPublisher`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeviceChanged:
    """Something in one device's status changed (schedule, reading, plan, last command)."""

    key: str


@dataclass(frozen=True, slots=True)
class DeviceAdded:
    """A device came up (at start, or later when its cloud became reachable)."""

    key: str


@dataclass(frozen=True, slots=True)
class DeviceOnline:
    """A device that was offline answers again (its charger reconnected, its cloud is reachable again)."""

    key: str


@dataclass(frozen=True, slots=True)
class AgentChanged:
    """Something agent-wide changed: the mode, the HEMS liveness or fallback, a standalone setting."""

    reason: str


@dataclass(frozen=True, slots=True)
class CommandAnswered:
    """A command (HEMS, Home Assistant or the web page) was answered; `payload` is the answer as published."""

    key: str | None
    """The device it was for; None for an agent-wide command (the mode)."""
    payload: dict[str, Any]


E = TypeVar("E")


class Events:
    """Synchronous fan-out of change notices by event type."""

    def __init__(self) -> None:
        self._listeners: dict[type[Any], list[Callable[[Any], None]]] = {}

    def subscribe(self, kind: type[E], listener: Callable[[E], None]) -> None:
        """Call `listener(event)` for every event of type `kind`."""
        self._listeners.setdefault(kind, []).append(listener)

    def emit(self, event: object) -> None:
        """Tell every listener of the event's type; a failing listener is logged and the others still hear."""
        for listener in self._listeners.get(type(event), ()):
            try:
                listener(event)
            except Exception:
                log.exception("listener %r failed on %r", listener, event)
