"""The running agent: builds devices from plugins, keeps state, owns the MQTT connection and the mode."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from pydantic import ValidationError

from energy_agent.api.clock import Clock, SystemClock
from energy_agent.api.devices import Device, DeviceContext, DeviceType, ScheduleRestorer
from energy_agent.api.domain import OperationMode
from energy_agent.api.errors import ConfigError, DeviceError, StateError
from energy_agent.app.plugins import Registry
from energy_agent.config import CoreSettings, StandaloneSettings
from energy_agent.hems.commands import parse_operation_mode_set
from energy_agent.hems.contracts import CONTRACT_VERSION
from energy_agent.hems.controller import HemsController
from energy_agent.hems.topics import Topics, check_topic_id
from energy_agent.homeassistant.bridge import HomeAssistantBridge
from energy_agent.mqtt.bus import InboundMessage, MqttBus, NotConnectedError
from energy_agent.prices.board import PriceBoard
from energy_agent.runtime.device import DeviceRuntime, PlanInfo, dumps, status_payload
from energy_agent.runtime.state import AgentState, StateStore
from energy_agent.standalone.planner import StandaloneParams, StandalonePlanner
from energy_agent.web.health import HealthServer

log = logging.getLogger(__name__)

SHUTDOWN_BUDGET_S = 4.0
PERSIST_DELAY_S = 0.05
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
            clock=self.clock,
            timezone=settings.zone,
            state_dir=settings.state_dir,
            mqtt=self.bus,
            sections={name: settings.section(name) for name in registry.config_sections},
        )
        self.started = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._dirty = False
        self._saver: asyncio.Task[None] | None = None
        self.board = PriceBoard(self.clock)
        self.hems = HemsController(
            bus=self.bus,
            topics=self.topics,
            clock=self.clock,
            zone=settings.zone,
            settings=settings.hems,
            mode=lambda: self.mode,
            persist=self.persist,
            on_fallback_change=self._on_fallback_change,
        )
        self.planner = StandalonePlanner(
            clock=self.clock,
            zone=settings.zone,
            board=self.board,
            policies=registry.policies,
            policy_for=self._policy_for,
            params=self.standalone_params,
            in_force=self.standalone_in_force,
            runtimes=lambda: list(self.runtimes.values()),
        )

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
        """Start devices, hand back the schedules restored from the state, and start their status loops."""
        for device in devices:
            await device.start()
        self.add_devices(devices)
        for device in devices:
            runtime = self.runtimes[f"{device.device_type}/{device.topic_id}"]
            if isinstance(device, ScheduleRestorer) and runtime.schedule is not None:
                try:
                    await device.restore_schedule(runtime.schedule)
                except DeviceError as exc:
                    log.warning("%s: could not resume the restored schedule: %s", runtime.key, exc)
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
            self.hems.attach(self.runtimes[key])

    # -- state -------------------------------------------------------------------------------------
    def persist(self) -> None:
        """Ask for the state to be saved: writes within PERSIST_DELAY_S coalesce into one, off the event loop.

        A burst of commands costs one fsync, not one each; `flush()` writes at once (start and shutdown).
        """
        self._dirty = True
        if self._saver is not None and not self._saver.done():
            return
        try:
            self._saver = asyncio.get_running_loop().create_task(self._save_soon(), name="save state")
        except RuntimeError:  # no event loop (a tool or a test): write now
            self._write_now()

    async def _save_soon(self) -> None:
        await asyncio.sleep(PERSIST_DELAY_S)  # real time: this coalesces disk writes, it is not a schedule
        while self._dirty:
            self._dirty = False
            payload = self.store.encode(self.state)
            try:
                await asyncio.to_thread(self.store.write, payload)
            except StateError as exc:
                log.error("%s; the agent keeps running with its state in memory", exc)

    async def flush(self) -> None:
        """Write the state now (after any write under way); a failure is logged, the agent keeps running."""
        if self._saver is not None and not self._saver.done():
            await asyncio.gather(self._saver, return_exceptions=True)
        self._write_now()

    def _write_now(self) -> None:
        self._dirty = False
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
        return {
            "operation_mode": self.mode.value,
            "hems_connected": self.hems.hems_connected,
            "_zone": self.settings.zone,
            "_takes_hems_commands": self.mode is OperationMode.HEMS,
        }

    async def publish_all_status(self) -> None:
        """Publish every device's status (after an agent-wide change)."""
        for runtime in list(self.runtimes.values()):
            await self.publish_status(runtime)

    # -- modes -------------------------------------------------------------------------------------
    def standalone_in_force(self) -> bool:
        """Standalone planning decides: standalone mode, or the HEMS fallback is active."""
        return self.mode is OperationMode.STANDALONE or self.hems.fallback_active

    def standalone_params(self) -> StandaloneParams:
        """The cap, top-X and pause in force: the config file, overridden by run-time changes."""
        base = self.settings.standalone
        overrides = self.state.overrides
        return StandaloneParams(
            price_threshold_eur_kwh=overrides.get("price_threshold", base.price_threshold),
            top_x_charge_count=overrides.get("top_x_charge_count", base.top_x_charge_count),
            paused=bool(overrides.get("paused", base.paused)),
        )

    async def set_standalone(self, **changes: Any) -> None:
        """Change standalone knobs at run time (validated, persisted, re-planned at once); ValueError if invalid."""
        params = self.standalone_params()
        merged = {
            "price_threshold": params.price_threshold_eur_kwh,
            "top_x_charge_count": params.top_x_charge_count,
        }
        paused = changes.pop("paused", params.paused)
        merged.update(changes)
        try:
            checked = StandaloneSettings(**merged)
        except ValidationError as exc:
            raise ValueError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
        self.state.overrides.update(checked.model_dump())
        self.state.overrides["paused"] = bool(paused)
        self.persist()
        log.info("standalone settings changed: %s", changes or {"paused": paused})
        await self.planner.replan("settings changed")
        await self.publish_all_status()

    def _policy_for(self, runtime: DeviceRuntime) -> str | None:
        device_type = self.registry.device_types.get(runtime.device.device_type)
        return device_type.default_policy if device_type else None

    async def _on_fallback_change(self, active: bool) -> None:
        if active:
            await self.planner.replan("HEMS fallback")
        await self.publish_all_status()

    async def switch_mode(self, mode: OperationMode, reason: str) -> None:
        """Clear every device's schedule, reset mode state and start `mode` fresh."""
        previous = self.mode
        log.info("switching operation mode %s -> %s (%s): clearing every device's schedule", previous, mode, reason)
        for runtime in list(self.runtimes.values()):
            async with runtime.lock:
                try:
                    await runtime.put_schedule(None)
                except DeviceError as exc:
                    log.error("%s: could not clear the schedule on the mode switch: %s", runtime.key, exc)
                    runtime.record.schedule = None
            runtime.plan = PlanInfo()
            runtime.record.last_command_digest = None
        self.state.operation_mode = mode
        self.hems.reset()
        self.persist()
        await self.planner.replan("mode switch")
        await self.publish_all_status()

    async def _on_mode_set(self, message: InboundMessage) -> None:
        parsed = parse_operation_mode_set(message.payload)
        if parsed.operation_mode is None:
            log.warning("operation mode command refused: %s", "; ".join(e.message for e in parsed.errors))
        elif parsed.operation_mode is not self.mode:
            await self.switch_mode(parsed.operation_mode, "MQTT command")
        payload = {
            "command_id": parsed.command_id,
            "accepted": parsed.operation_mode is not None,
            "operation_mode": self.mode.value,
            "errors": [e.to_json() for e in parsed.errors],
            "contract_version": CONTRACT_VERSION,
        }
        with contextlib.suppress(NotConnectedError):
            await self.bus.publish(self.topics.mode_result, dumps(payload))
            if message.response_topic:
                await self.bus.publish(
                    message.response_topic, dumps(payload), correlation_data=message.correlation_data
                )

    async def _reconcile_mode_at_start(self) -> None:
        configured = self.settings.operation_mode
        if self.state.operation_mode is None:
            self.state.operation_mode = configured
        elif self.state.configured_mode != configured and self.state.operation_mode is not configured:
            await self.switch_mode(configured, "the config file's operation_mode changed")
        self.state.configured_mode = configured
        await self.flush()

    def status_payload_for(self, runtime: DeviceRuntime) -> dict[str, Any]:
        """One device's status payload as the contract publishes it."""
        return status_payload(runtime, self.agent_status_fields())

    async def publish_status(self, runtime: DeviceRuntime) -> None:
        """Publish one device's retained status; skipped quietly while disconnected."""
        payload = self.status_payload_for(runtime)
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

    def _start_price_source(self) -> None:
        prices = getattr(self.settings, "prices", None)
        if prices is None:
            log.info("no price source configured (prices:); standalone planning will not charge")
            return
        source = self.registry.price_sources[prices.source].create(prices, self.context)
        self._spawn(source.run(self.board), f"prices {prices.source}")

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set, then announce `offline`, close devices and save the state."""
        self.bus.on_connect(self._on_connect)
        self.hems.start()
        HomeAssistantBridge(self).start()
        self.bus.subscribe_messages(self.topics.mode_set, self._on_mode_set)
        log.info("energy-agent starting")
        self._spawn(self.bus.run(), "mqtt")
        health = HealthServer(self) if self.settings.health.enabled else None
        try:
            if health is not None:
                try:
                    port = await health.start()
                    log.info("health endpoint on http://%s:%d/healthz", self.settings.health.host, port)
                except OSError as exc:
                    log.error("health endpoint not started (%s); set health.port or health.enabled", exc)
                    health = None
            for device_type in self.registry.device_types.values():
                # A config error in a plugin section is fatal; an unreachable cloud is retried in the background.
                try:
                    devices = await self.build_devices(device_type)
                except DeviceError as exc:
                    self._spawn(self._bring_up_later(device_type, exc), f"bring up {device_type.name}")
                    continue
                await self._serve(devices)
            log.info("devices: %s", ", ".join(self.runtimes) or "none")
            await self._reconcile_mode_at_start()
            log.info("operation mode: %s", self.mode.value)
            self._start_price_source()
            self._spawn(self.planner.run(), "standalone planner")
            self._spawn(self.hems.liveness_loop(self.publish_all_status), "hems liveness")
            await self.planner.replan("start")
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
            if health is not None:
                await health.stop()
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
            await self.flush()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))
