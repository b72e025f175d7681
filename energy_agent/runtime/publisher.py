"""The retained per-device topics: each device's status whenever it changes, its capabilities when it comes up,
and both again after every reconnect.

Publishing follows the change notices (`DeviceChanged`, `DeviceAdded`, `AgentChanged`): a burst of changes to
one device is published once, on the next turn of the event loop, with what holds then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

from energy_agent.api.clock import Clock
from energy_agent.hems.payloads import AgentFacts, capabilities_payload, dumps, status_payload
from energy_agent.hems.topics import Topics
from energy_agent.mqtt.bus import MqttBus, NotConnectedError
from energy_agent.runtime.devices import DeviceRuntime
from energy_agent.runtime.events import AgentChanged, DeviceAdded, DeviceChanged, Events

log = logging.getLogger(__name__)


class StatusPublisher:
    """See the module docstring."""

    def __init__(
        self,
        *,
        bus: MqttBus,
        topics: Topics,
        clock: Clock,
        runtimes: Mapping[str, DeviceRuntime],
        agent_facts: Callable[[], AgentFacts],
        events: Events,
    ) -> None:
        self._bus = bus
        self._topics = topics
        self._clock = clock
        self._runtimes = runtimes
        self._agent_facts = agent_facts
        self._dirty: set[str] = set()
        self._scheduled = False
        """A publication of the dirty statuses waits for the next turn of the event loop."""
        events.subscribe(DeviceChanged, lambda event: self._mark(event.key))
        events.subscribe(AgentChanged, lambda event: self._mark(*self._runtimes))
        events.subscribe(DeviceAdded, self._on_added)
        bus.on_connect(self.publish_all)

    def status_of(self, runtime: DeviceRuntime) -> dict[str, object]:
        """One device's status payload as it would be published now."""
        return status_payload(runtime.facts(), self._agent_facts(), self._clock.now())

    def _mark(self, *keys: str) -> None:
        self._dirty.update(keys)
        if not self._scheduled:
            with contextlib.suppress(RuntimeError):  # no event loop: nothing can be published anyway
                asyncio.get_running_loop().call_soon(self._publish_dirty)
                self._scheduled = True

    def _publish_dirty(self) -> None:
        self._scheduled = False
        keys, self._dirty = self._dirty, set()
        for key in sorted(keys):
            runtime = self._runtimes.get(key)
            if runtime is not None:
                self.publish_status(runtime)

    def publish_status(self, runtime: DeviceRuntime) -> None:
        """Publish one device's retained status now; skipped quietly while disconnected."""
        device = runtime.device
        topic = self._topics.status(device.device_type, device.topic_id)
        with contextlib.suppress(NotConnectedError):
            self._bus.send(topic, dumps(self.status_of(runtime)), retain=True)

    def publish_capabilities(self, runtime: DeviceRuntime) -> None:
        """Publish one device's retained capabilities now; skipped quietly while disconnected."""
        device = runtime.device
        payload = capabilities_payload(
            device.device_type, device.topic_id, device.capabilities, reads_back=runtime.reads_back
        )
        with contextlib.suppress(NotConnectedError):
            self._bus.send(self._topics.capabilities(device.device_type, device.topic_id), dumps(payload), retain=True)

    def _on_added(self, event: DeviceAdded) -> None:
        runtime = self._runtimes.get(event.key)
        if runtime is not None:
            self.publish_capabilities(runtime)

    async def publish_all(self) -> None:
        """Every device's capabilities and status (after a (re)connect)."""
        for runtime in list(self._runtimes.values()):
            self.publish_capabilities(runtime)
            self.publish_status(runtime)
