"""Is the HEMS there? Its liveness (its commands and its own availability topic) and the opt-in fallback.

`hems_connected` is true while the broker is up and the HEMS was heard within `hems.timeout_s` (and did not
say `offline`). With `hems.fallback: standalone`, a HEMS silent that long in hems mode hands planning to
standalone until its next command (`ModeControl.fallback_active`).
"""

from __future__ import annotations

import logging
from datetime import datetime

from energy_agent.api.clock import Clock
from energy_agent.api.domain import OperationMode
from energy_agent.config import HemsSettings
from energy_agent.mqtt.bus import InboundMessage, MqttBus
from energy_agent.runtime.events import AgentChanged, Events
from energy_agent.runtime.modes import ModeControl

log = logging.getLogger(__name__)


class HemsLink:
    """See the module docstring. `start()` once the bus exists; `run()` as a task."""

    def __init__(
        self, *, bus: MqttBus, topic: str, clock: Clock, settings: HemsSettings, modes: ModeControl, events: Events
    ) -> None:
        self._bus = bus
        self._topic = topic
        self._clock = clock
        self._settings = settings
        self._modes = modes
        self._events = events
        self.last_heard_at: datetime | None = None
        self.started_at: datetime | None = None
        self.controller_online: bool | None = None

    def start(self) -> None:
        """Listen to the HEMS's own availability topic; the silence before a first word counts from now."""
        self.started_at = self._clock.now()
        self._bus.subscribe_messages(self._topic, self._on_availability)

    @property
    def hems_connected(self) -> bool:
        """The broker is up and the HEMS was heard within `hems.timeout_s` (and did not say `offline`)."""
        if not self._bus.connected or self.controller_online is False or self.last_heard_at is None:
            return False
        return (self._clock.now() - self.last_heard_at).total_seconds() < self._settings.timeout_s

    def heard(self) -> None:
        """The HEMS just spoke (a command)."""
        self.last_heard_at = self._clock.now()

    def _on_availability(self, message: InboundMessage) -> None:
        was = self.hems_connected
        word = message.payload.strip().decode("utf-8", "replace").lower()
        if word == "online":
            self.controller_online = True
            self.heard()
        elif word == "offline":
            self.controller_online = False
            log.warning("the HEMS announced it is offline")
        else:
            log.warning("ignored HEMS availability payload %r (expected online or offline)", word[:40])
            return
        self.check()
        if self.hems_connected != was:
            self._events.emit(AgentChanged("hems liveness"))

    def check(self) -> None:
        """Start the fallback when the HEMS went silent (if configured); called on a timer and on events."""
        modes = self._modes
        silent = modes.target is OperationMode.HEMS and not self.hems_connected and self._silent_long_enough()
        if silent and self._settings.fallback == "standalone" and not modes.fallback_active:
            log.warning(
                "the HEMS was not heard for %.0f s: standalone planning takes over until its next command",
                self._settings.timeout_s,
            )
            modes.set_fallback(True)

    def _silent_long_enough(self) -> bool:
        if self.controller_online is False:
            return True
        since = self.last_heard_at or self.started_at
        return since is None or (self._clock.now() - since).total_seconds() >= self._settings.timeout_s

    def take_back_control(self) -> None:
        """A HEMS command ends the fallback."""
        if self._modes.fallback_active:
            log.info("the HEMS is back: its commands are in force again")
            self._modes.set_fallback(False)

    async def run(self) -> None:
        """Check every few seconds; tell the listeners whenever `hems_connected` flips."""
        was = self.hems_connected
        while True:
            await self._clock.sleep(min(5.0, self._settings.timeout_s / 4))
            now = self.hems_connected
            self.check()
            if now != was:
                was = now
                self._events.emit(AgentChanged("hems liveness"))
