"""The agent's side of Home Assistant: discovery, the birth message, the controls and the settings topic.

Discovery is published once the agent has built its devices (`Agent.started`), after every reconnect,
whenever Home Assistant announces `online` on its birth topic, and when a device comes up late (its
`DeviceAdded` notice). Devices announced before and gone now get an empty retained config, which
removes their entities; node ids are remembered in the agent state for that. A device type that is
configured but has no device up yet (its cloud was unreachable at start) keeps its entities.

The mode select sends to the HEMS contract's `{hems_prefix}/agent/operation_mode/set`, which the agent
already validates and answers on `…/result`. The other controls have their own command topics and go through
the agent's ordered commands (`SettingsCommands`). The settings topic follows every agent-wide change notice.
The bridge does not subscribe to the device statuses: they are the agent's busiest topic, and receiving its
own would double the traffic a flood of HEMS commands causes. It reads the agent through `AgentView` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from energy_agent import __version__
from energy_agent.config import StandaloneSettings
from energy_agent.hems.payloads import dumps
from energy_agent.hems.topics import Topics
from energy_agent.homeassistant.controls import CHARGE_NOW, parse_setting, settings_payload
from energy_agent.homeassistant.discovery import (
    DeviceInfo,
    DiscoveryContext,
    DiscoveryMessage,
    agent_message,
    device_message,
    stale_nodes,
)
from energy_agent.mqtt.bus import ONLINE, InboundMessage, MqttBus, NotConnectedError
from energy_agent.runtime.events import AgentChanged, CommandAnswered, DeviceAdded, Events
from energy_agent.runtime.price_watch import PRICES_CHANGED
from energy_agent.runtime.view import AgentView, DiscoveryMemory

log = logging.getLogger(__name__)


class SettingsCommands(Protocol):
    """Where the controls' changes go: the agent's ordered commands."""

    async def change_standalone(self, **changes: Any) -> StandaloneSettings:
        """Apply run-time changes after the commands before them; ValueError says what is wrong."""
        ...

    async def charge_now(self, key: str, on: bool | None = None) -> bool:
        """Toggle "charge now" on one device after the commands before it; ValueError says why it cannot."""
        ...


class HomeAssistantBridge:
    """Announces the agent and its devices to Home Assistant and carries out its controls."""

    name = "Home Assistant bridge"

    def __init__(
        self,
        *,
        view: AgentView,
        bus: MqttBus,
        topics: Topics,
        discovery_prefix: str,
        commands: SettingsCommands,
        memory: DiscoveryMemory,
        events: Events,
        sw_version: str = __version__,
    ) -> None:
        self._view = view
        self._bus = bus
        self._topics = topics
        self._commands = commands
        self._memory = memory
        self._events = events
        self.context = DiscoveryContext(topics=topics, discovery_prefix=discovery_prefix, sw_version=sw_version)
        self._discovery_lock = asyncio.Lock()
        self._settings_lock = asyncio.Lock()
        self._announced: frozenset[str] = frozenset()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Register the subscriptions, the connect listener and the change listener; the bus delivers from then on."""
        bus = self._bus
        bus.subscribe_messages(self.context.birth_topic, self._on_birth)
        bus.subscribe_messages(self.context.setting_command_filter, self._on_setting)
        bus.on_connect(self._on_connect)
        self._events.subscribe(AgentChanged, lambda event: self._settings_changed(event.reason))
        self._events.subscribe(DeviceAdded, self._on_device_added)
        # every answer to a mode command, refused ones too, re-syncs the select with the mode in force
        self._events.subscribe(CommandAnswered, self._on_answer)

    async def stop(self) -> None:
        """Nothing to release: the bus is the agent's."""

    # -- publishing --------------------------------------------------------------------------------
    def messages(self) -> list[DiscoveryMessage]:
        """The discovery messages of the agent and of every device running now."""
        messages = [agent_message(self.context)]
        for device in self._view.devices():
            try:
                messages.append(
                    device_message(DeviceInfo(device.device_type, device.topic_id, device.name), self.context)
                )
            except ValueError as exc:
                log.error("%s: not announced to Home Assistant: %s", device.key, exc)
        return messages

    def _pending_prefixes(self) -> tuple[str, ...]:
        return tuple(self.context.device_type_prefix(name) for name in self._view.pending_device_types())

    async def publish_discovery(self, *, only_new_devices: bool = False) -> None:
        """Publish every node's retained config, remove the nodes of devices that are gone, remember the rest.

        With `only_new_devices`, nothing is published unless a device runs that was not announced yet.
        """
        async with self._discovery_lock:
            keys = self._view.device_keys()
            if only_new_devices and keys <= self._announced:
                return
            messages = self.messages()
            current = [m.node_id for m in messages]
            known = self._memory.nodes
            stale = stale_nodes(known, current, self._pending_prefixes())
            try:
                for message in messages:
                    await self._bus.publish(message.topic, message.encoded(), retain=True)
                for node_id in stale:
                    await self._bus.publish(self.context.discovery_topic(node_id), b"", retain=True)
            except NotConnectedError as exc:
                log.debug("discovery not published (%s); it is published again on connect", exc)
                return
            if stale:
                log.info("removed from Home Assistant: %s", ", ".join(stale))
            self._memory.remember(sorted((set(known) - set(stale)) | set(current)))
            if keys != self._announced:
                log.info("Home Assistant discovery published for %s", ", ".join(current))
            self._announced = keys

    async def publish_settings(self) -> None:
        """Publish the retained settings in force (the state of the controls); skipped while disconnected."""
        payload = settings_payload(self._view.mode.value, self._view.standalone)
        with contextlib.suppress(NotConnectedError):
            await self._bus.publish(self.context.settings_topic, dumps(payload), retain=True)

    async def publish_prices(self) -> None:
        """Publish the retained price health (the price data entity); skipped while disconnected."""
        payload = self._view.price_report.to_json()
        with contextlib.suppress(NotConnectedError):
            await self._bus.publish(self.context.prices_topic, dumps(payload), retain=True)

    async def publish_all(self) -> None:
        """Discovery, every device status (through a change notice), the settings and the price health."""
        await self.publish_discovery()
        self._events.emit(AgentChanged("home assistant restarted"))
        await self.publish_settings()
        await self.publish_prices()

    # -- handlers ----------------------------------------------------------------------------------
    async def _on_connect(self) -> None:
        # Before the devices are built, a discovery would take the entities of every device away.
        await self._view.started.wait()
        await self.publish_discovery()
        await self.publish_settings()
        await self.publish_prices()

    async def _on_birth(self, message: InboundMessage) -> None:
        # A retained birth is an old one, delivered because we subscribed; only a live one means a restart.
        if message.retain or message.payload.strip().decode(errors="replace").lower() != ONLINE:
            return
        if not self._view.started.is_set():
            return  # the connect listener publishes everything once the devices are up
        log.info("Home Assistant is online: publishing discovery and states again")
        await self.publish_all()

    def _on_device_added(self, event: DeviceAdded) -> None:
        # devices up before the start are announced by the connect listener; this one came up later
        if self._view.started.is_set():
            self._spawn(self.publish_discovery(only_new_devices=True), "publish discovery")

    def _on_answer(self, event: CommandAnswered) -> None:
        if event.key is None:
            self._settings_changed("mode")

    def _settings_changed(self, reason: str) -> None:
        if reason in ("mode", "standalone settings"):
            self._spawn(self.publish_settings(), "publish settings")
        elif reason == PRICES_CHANGED and self._view.started.is_set():
            self._spawn(self.publish_prices(), "publish price health")

    def _spawn(self, job: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(job, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_setting(self, message: InboundMessage) -> None:
        setting = message.topic.removeprefix(f"{self.context.settings_topic}/").removesuffix("/set")
        if message.retain:
            log.warning("ignoring a retained command on %s: commands must not be retained", message.topic)
            return
        async with self._settings_lock:
            try:
                value = parse_setting(setting, message.payload)
                if setting == CHARGE_NOW:
                    await self._commands.charge_now(value)
                else:
                    await self._commands.change_standalone(**{setting: value})
            except ValueError as exc:
                log.warning("Home Assistant: %s change refused: %s", setting, exc)
                await self.publish_settings()  # shows the value in force again; a change publishes by its notice
