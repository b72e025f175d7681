"""The running agent: builds devices from plugins, keeps state, owns the MQTT connection and the mode."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from energy_agent.clock import Clock, SystemClock
from energy_agent.config import CoreSettings
from energy_agent.device_runtime import DeviceRuntime, dumps, status_payload
from energy_agent.devices import Device, DeviceContext, DeviceType
from energy_agent.domain import OperationMode
from energy_agent.errors import ConfigError, DeviceError, StateError
from energy_agent.mqtt import MqttBus, NotConnectedError
from energy_agent.plugins import Registry
from energy_agent.state import AgentState, StateStore
from energy_agent.topics import Topics, check_topic_id

log = logging.getLogger(__name__)

SHUTDOWN_BUDGET_S = 4.0
BUILD_RETRY_MIN_S = 30.0
BUILD_RETRY_MAX_S = 900.0


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
        self._tasks: list[asyncio.Task[Any]] = []

    # -- devices -----------------------------------------------------------------------------------
    async def build_devices(self, device_type: DeviceType) -> list[Device]:
        """Build the devices of one type from its config section (none when the section is absent)."""
        section = self.settings.section(device_type.config_section)
        if section is None:
            return []
        built = device_type.create(section, self.context)
        devices = list(await built if inspect.isawaitable(built) else built)
        ids = [d.topic_id for d in devices]
        for device in devices:
            key = f"{device.device_type}/{device.topic_id}"
            try:
                check_topic_id(device.topic_id)
            except ValueError as exc:
                raise ConfigError([f"{device_type.config_section}: {exc}"]) from None
            if key in self.runtimes or ids.count(device.topic_id) > 1:
                raise ConfigError([f"{key}: two devices share this topic id; give each a unique one"])
        return devices

    async def _serve(self, devices: Sequence[Device]) -> None:
        """Start devices and their status loops."""
        for device in devices:
            await device.start()
        self.add_devices(devices)
        for device in devices:
            runtime = self.runtimes[f"{device.device_type}/{device.topic_id}"]
            self._spawn(self._device_loop(runtime), f"device {runtime.key}")
            await self.publish_capabilities(runtime)

    async def _bring_up_later(self, device_type: DeviceType, error: DeviceError) -> None:
        """Retry building a device type whose cloud could not be reached at start, with growing delays."""
        delay_s = BUILD_RETRY_MIN_S
        while True:
            log.error("%s devices not available yet (%s); retrying in %.0f s", device_type.name, error, delay_s)
            await self.clock.sleep(delay_s)
            delay_s = min(delay_s * 2, BUILD_RETRY_MAX_S)
            try:
                devices = await self.build_devices(device_type)
            except DeviceError as exc:
                error = exc
                continue
            await self._serve(devices)
            return

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
        self.bus.on_connect(self._on_connect)
        if self.state.operation_mode is None:
            self.state.operation_mode = self.settings.operation_mode
            self.persist()
        log.info("energy-agent starting in %s mode", self.mode.value)
        self._spawn(self.bus.run(), "mqtt")
        try:
            for device_type in self.registry.device_types.values():
                # A config error in a plugin section is fatal; an unreachable cloud is retried in the background.
                try:
                    devices = await self.build_devices(device_type)
                except DeviceError as exc:
                    self._spawn(self._bring_up_later(device_type, exc), f"bring up {device_type.name}")
                    continue
                await self._serve(devices)
            log.info("devices: %s", ", ".join(self.runtimes) or "none")
            self.started.set()
            waiter = asyncio.create_task(stop.wait())
            self._tasks.append(waiter)
            while not stop.is_set():
                done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    self._tasks.remove(task)
                    error = None if task.cancelled() else task.exception()
                    if error is not None:
                        raise error
        finally:
            log.info("energy-agent stopping")
            await self.bus.announce_offline()
            for task in self._tasks:
                task.cancel()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SHUTDOWN_BUDGET_S):
                    await asyncio.gather(*self._tasks, return_exceptions=True)
            for runtime in self.runtimes.values():
                try:
                    await runtime.device.close()
                except Exception as exc:  # a plugin's close must not stop the others from closing
                    log.warning("%s: close failed: %s", runtime.key, exc)
            self.persist()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))
