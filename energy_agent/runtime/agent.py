"""The running agent's lifecycle: build the devices, take up the mode, run the tasks, shut down cleanly.

The parts are built and wired by the composition root (`energy_agent.app.compose`); the agent starts them in
order and stops them in reverse. When one of its own tasks fails with an unexpected exception, the agent shuts
down as on SIGTERM: it publishes `offline`, cancels the tasks (waiting at most SHUTDOWN_BUDGET_S), closes the
devices and saves the state.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from energy_agent.api.backoff import Backoff
from energy_agent.api.clock import Clock
from energy_agent.api.devices import Device, DeviceContext, DeviceType, ScheduleRestorer
from energy_agent.api.errors import ConfigError, DeviceError
from energy_agent.api.prices import PriceSource
from energy_agent.config import CoreSettings
from energy_agent.hems.topics import check_topic_id
from energy_agent.mqtt.bus import MqttBus
from energy_agent.prices.board import PriceBoard
from energy_agent.runtime.agent_commands import AgentCommands
from energy_agent.runtime.devices import DeviceRuntime
from energy_agent.runtime.events import DeviceAdded, Events
from energy_agent.runtime.hems_commands import HemsCommands
from energy_agent.runtime.hems_link import HemsLink
from energy_agent.runtime.modes import ModeControl
from energy_agent.runtime.planner import StandalonePlanner
from energy_agent.runtime.readback import ReadBack
from energy_agent.runtime.state import AgentState, StateSaver
from energy_agent.runtime.view import RuntimeView

log = logging.getLogger(__name__)

SHUTDOWN_BUDGET_S = 4.0
BUILD_RETRY = Backoff(first_s=30.0, max_s=900.0)
"""How often a device type whose cloud could not be reached at start is tried again."""


class Service(Protocol):
    """Something the agent starts before its devices and stops after them (the health server, say)."""

    name: str
    """What it is, for the log."""

    async def start(self) -> object:
        """Start serving; an error is logged and the agent runs on without the service."""
        ...

    async def stop(self) -> None:
        """Stop serving."""
        ...


@dataclass
class Agent:
    """Everything one `energy-agent run` process does: construct with `app.compose.build_agent`, then `run`."""

    settings: CoreSettings
    device_types: dict[str, DeviceType]
    clock: Clock
    events: Events
    bus: MqttBus
    state: AgentState
    saver: StateSaver
    modes: ModeControl
    link: HemsLink
    board: PriceBoard
    planner: StandalonePlanner
    hems: HemsCommands
    commands: AgentCommands
    readback: ReadBack
    context: DeviceContext
    runtimes: dict[str, DeviceRuntime]
    view: RuntimeView
    started: asyncio.Event
    price_source: PriceSource | None = None
    services: list[Service] = field(default_factory=list)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

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

    def add_devices(self, devices: Sequence[Device]) -> list[DeviceRuntime]:
        """Wrap devices in runtimes bound to their persisted records and listen for their commands."""
        added = []
        for device in devices:
            key = f"{device.device_type}/{device.topic_id}"
            runtime = DeviceRuntime(
                device=device, record=self.state.device(key), clock=self.clock, saver=self.saver, events=self.events
            )
            self.runtimes[key] = runtime
            self.hems.attach(runtime)
            added.append(runtime)
        return added

    async def _serve(self, devices: Sequence[Device]) -> None:
        """Start devices, hand back the schedules restored from the state, and start their loops."""
        for device in devices:
            await device.start()
        runtimes = self.add_devices(devices)
        for runtime in runtimes:
            device = runtime.device
            if isinstance(device, ScheduleRestorer) and runtime.schedule is not None:
                try:
                    await device.restore_schedule(runtime.schedule)
                except DeviceError as exc:
                    log.warning("%s: could not resume the restored schedule: %s", runtime.key, exc)
        for runtime in runtimes:
            self._spawn(self._device_loop(runtime), f"device {runtime.key}")
            if runtime.reads_back:
                self._spawn(self.readback.run(runtime), f"read-back {runtime.key}")
            self.events.emit(DeviceAdded(runtime.key))

    async def _bring_up_later(self, device_type: DeviceType, error: DeviceError) -> None:
        """Retry building a device type whose cloud could not be reached at start, with growing delays."""
        for delay_s in BUILD_RETRY.delays():
            log.error("%s devices not available yet (%s); retrying in %.0f s", device_type.name, error, delay_s)
            await self.clock.sleep(delay_s)
            try:
                devices = await self.build_devices(device_type)
            except DeviceError as exc:
                error = exc
                continue
            await self._serve(devices)
            await self.planner.replan(f"{device_type.name} devices up")
            return

    async def _device_loop(self, runtime: DeviceRuntime) -> None:
        """Poll status at the device's interval and at every period boundary or expiry; expire on time."""
        interval_s = runtime.device.status_interval_s
        while True:
            if runtime.expiry_due():
                await runtime.submit(runtime.expire)
            await runtime.poll_status()
            runtime.changed()
            now = self.clock.now()
            deadline = runtime.next_deadline(now)
            wait_s = interval_s if deadline is None else min(interval_s, (deadline - now).total_seconds() + 0.001)
            await self.clock.sleep(wait_s)

    # -- running -----------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set, then announce `offline`, close devices and save the state."""
        self.link.start()
        self.commands.start()
        log.info("energy-agent starting")
        started_services: list[Service] = []
        try:
            for service in self.services:
                try:
                    await service.start()
                    started_services.append(service)
                except OSError as exc:
                    log.error("%s not started (%s); the agent runs on without it", service.name, exc)
            for device_type in self.device_types.values():
                if self.settings.section(device_type.config_section) is not None:
                    self.hems.watch(device_type.name)  # commands are answered before the devices are up
            self._spawn(self.bus.run(), "mqtt")
            for device_type in self.device_types.values():
                # A config error in a plugin section is fatal; an unreachable cloud is retried in the background.
                try:
                    devices = await self.build_devices(device_type)
                except DeviceError as exc:
                    self._spawn(self._bring_up_later(device_type, exc), f"bring up {device_type.name}")
                    continue
                await self._serve(devices)
            log.info("devices: %s", ", ".join(self.runtimes) or "none")
            if self.modes.reconcile_at_start():
                await self.commands.switch(self.modes.target, "the config file's operation_mode changed")
                self.modes.config_taken_up()
            await self.saver.flush()
            log.info("operation mode: %s", self.modes.mode.value)
            if self.price_source is not None:
                self._spawn(self.price_source.run(self.board), "prices")
            else:
                log.info("no price source configured (prices:); standalone planning will not charge")
            self._spawn(self.planner.run(), "standalone planner")
            self._spawn(self.link.run(), "hems liveness")
            await self.planner.replan("start")
            self.started.set()
            await self._wait(stop)
        finally:
            await self._shut_down(started_services)

    async def _wait(self, stop: asyncio.Event) -> None:
        waiter = asyncio.create_task(stop.wait())
        self._tasks.append(waiter)
        while not stop.is_set():
            done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                self._tasks.remove(task)
                error = None if task.cancelled() else task.exception()
                if error is not None:
                    raise error

    async def _shut_down(self, services: list[Service]) -> None:
        log.info("energy-agent stopping")
        await self.bus.announce_offline()
        for service in reversed(services):
            await service.stop()
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
        await self.saver.flush()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))
