"""The running agent: builds devices from plugins, keeps state, owns the MQTT connection and the mode."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from energy_agent.clock import Clock, SystemClock
from energy_agent.config import CoreSettings
from energy_agent.device_runtime import DeviceRuntime, dumps, status_payload
from energy_agent.devices import Device, DeviceContext
from energy_agent.domain import OperationMode
from energy_agent.errors import ConfigError, StateError
from energy_agent.mqtt import MqttBus, NotConnectedError
from energy_agent.plugins import Registry
from energy_agent.state import AgentState, StateStore
from energy_agent.topics import Topics

log = logging.getLogger(__name__)

SHUTDOWN_BUDGET_S = 4.0


class Agent:
    """Everything one `energy-agent run` process does. Construct, then `await run(stop_event)`."""

    def __init__(
        self,
        settings: CoreSettings,
        registry: Registry,
        *,
        clock: Clock | None = None,
        bus: MqttBus | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.clock = clock or SystemClock()
        self.topics = Topics(settings.mqtt.hems_prefix)
        self.bus = bus or MqttBus(settings.mqtt, availability_topic=self.topics.agent_availability)
        self.store = StateStore(settings.state_dir, self.clock)
        self.state: AgentState = self.store.load()
        self.runtimes: dict[str, DeviceRuntime] = {}
        self.context = DeviceContext(
            clock=self.clock, timezone=settings.zone, state_dir=settings.state_dir, mqtt=self.bus
        )
        self.started = asyncio.Event()
        self._wake = asyncio.Event()

    # -- devices -----------------------------------------------------------------------------------
    def build_devices(self) -> list[Device]:
        """Ask every device type with a config section to build its devices; topic keys must be unique."""
        devices: list[Device] = []
        for device_type in self.registry.device_types.values():
            section = self.settings.section(device_type.config_section)
            if section is None:
                continue
            devices.extend(device_type.create(section, self.context))
        keys = [f"{d.device_type}/{d.topic_id}" for d in devices]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ConfigError(
                [f"{k}: two devices share this topic id; give each a unique topic id" for k in duplicates]
            )
        return devices

    def add_devices(self, devices: Sequence[Device]) -> None:
        """Wrap devices in runtimes bound to their persisted records."""
        for device in devices:
            key = f"{device.device_type}/{device.topic_id}"
            self.runtimes[key] = DeviceRuntime(
                device=device,
                record=self.state.device(key),
                clock=self.clock,
                persist=self.persist,
                publish_status=self.publish_status,
            )

    # -- state -------------------------------------------------------------------------------------
    def persist(self) -> None:
        """Save the state; a failure is logged and shown as an error, the agent keeps running."""
        try:
            self.store.save(self.state)
        except StateError as exc:
            log.error("%s; the agent keeps running with its state in memory", exc)

    @property
    def mode(self) -> OperationMode:
        """The operation mode in force."""
        return self.state.operation_mode or self.settings.operation_mode

    # -- publishing --------------------------------------------------------------------------------
    def agent_status_fields(self) -> dict[str, Any]:
        """Agent-wide optional fields of every device status."""
        return {"operation_mode": self.mode.value, "_zone": self.settings.zone}

    async def publish_status(self, runtime: DeviceRuntime) -> None:
        """Publish one device's retained status; skipped quietly while disconnected."""
        payload = status_payload(runtime, self.agent_status_fields())
        topic = self.topics.status(runtime.device.device_type, runtime.device.topic_id)
        with contextlib.suppress(NotConnectedError):
            await self.bus.publish(topic, dumps(payload), retain=True)

    async def publish_capabilities(self, runtime: DeviceRuntime) -> None:
        """Publish one device's retained capabilities."""
        caps = runtime.device.capabilities
        payload = {
            "device_type": runtime.device.device_type,
            "topic_id": runtime.device.topic_id,
            "min_current": caps.min_current_a,
            "max_current": caps.max_current_a,
            "phases": caps.phases,
            "control_strategy": caps.control_strategy,
            "max_horizon_s": caps.horizon_s,
            "max_periods": caps.max_periods,
            "contract_versions": ["1"],
        }
        topic = self.topics.capabilities(runtime.device.device_type, runtime.device.topic_id)
        with contextlib.suppress(NotConnectedError):
            await self.bus.publish(topic, dumps(payload), retain=True)

    async def _on_connect(self) -> None:
        for runtime in self.runtimes.values():
            await self.publish_capabilities(runtime)
            await self.publish_status(runtime)

    # -- loops -------------------------------------------------------------------------------------
    async def _device_loop(self, runtime: DeviceRuntime) -> None:
        """Poll status at the device's interval and at every period boundary or expiry; publish it."""
        interval_s = runtime.device.status_interval_s
        while True:
            await runtime.expire_if_due()
            await runtime.poll_status()
            await self.publish_status(runtime)
            now = self.clock.now()
            deadline = runtime.next_deadline(now)
            wait_s = interval_s if deadline is None else min(interval_s, (deadline - now).total_seconds() + 0.001)
            await self.clock.sleep(wait_s)

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set, then announce `offline`, close devices and save the state."""
        self.add_devices(self.build_devices())
        self.bus.on_connect(self._on_connect)
        devices = [r.device for r in self.runtimes.values()]
        for device in devices:
            await device.start()
        if self.state.operation_mode is None:
            self.state.operation_mode = self.settings.operation_mode
            self.persist()
        log.info(
            "energy-agent starting: mode %s, %d device(s): %s",
            self.mode.value,
            len(self.runtimes),
            ", ".join(self.runtimes) or "none",
        )
        tasks = [asyncio.create_task(self.bus.run(), name="mqtt")]
        tasks += [asyncio.create_task(self._device_loop(r), name=f"device {k}") for k, r in self.runtimes.items()]
        self.started.set()
        try:
            waiter = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            for task in done:
                error = None if task is waiter else task.exception()
                if error is not None:
                    raise error
        finally:
            log.info("energy-agent stopping")
            await self.bus.announce_offline()
            for task in tasks:
                task.cancel()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SHUTDOWN_BUDGET_S):
                    await asyncio.gather(*tasks, return_exceptions=True)
            for device in devices:
                with contextlib.suppress(Exception):
                    await device.close()
            self.persist()
