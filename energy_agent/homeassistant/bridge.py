"""The agent's side of Home Assistant: discovery, the birth message, the controls and the settings topic.

Discovery is published once the agent has built its devices (`Agent.started`), after every reconnect,
whenever Home Assistant announces `online` on its birth topic, and when a device comes up late (its
retained capabilities appear). Devices announced before and gone now get an empty retained config, which
removes their entities; node ids are remembered in the agent state for that. A device type that is
configured but has no device up yet (its cloud was unreachable at start) keeps its entities.

The mode select sends to the HEMS contract's `{hems_prefix}/agent/operation_mode/set`, which the agent
already validates and answers on `…/result`; the bridge republishes the settings topic on every answer.
The other controls have their own command topics and go through `Agent.set_standalone`. The bridge does not
subscribe to the device statuses: they are the agent's busiest topic, and receiving its own would double
the traffic a flood of HEMS commands causes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from energy_agent import __version__
from energy_agent.homeassistant.controls import parse_setting, settings_payload
from energy_agent.homeassistant.discovery import (
    DeviceInfo,
    DiscoveryContext,
    DiscoveryMessage,
    agent_message,
    device_message,
    stale_nodes,
)
from energy_agent.mqtt.bus import ONLINE, InboundMessage, NotConnectedError
from energy_agent.runtime.device import dumps

if TYPE_CHECKING:
    from energy_agent.runtime.agent import Agent

log = logging.getLogger(__name__)


class HomeAssistantBridge:
    """Announces the agent and its devices to Home Assistant and carries out its controls."""

    def __init__(self, agent: Agent, *, sw_version: str = __version__) -> None:
        self.agent = agent
        self.context = DiscoveryContext(
            topics=agent.topics, discovery_prefix=agent.settings.mqtt.discovery_prefix, sw_version=sw_version
        )
        self._discovery_lock = asyncio.Lock()
        self._settings_lock = asyncio.Lock()
        self._announced: frozenset[str] = frozenset()

    def start(self) -> None:
        """Register the subscriptions and the connect listener; the bus delivers from then on."""
        bus = self.agent.bus
        bus.subscribe_messages(self.context.birth_topic, self._on_birth)
        bus.subscribe_messages(self.context.setting_command_filter, self._on_setting)
        bus.subscribe_messages(self.agent.topics.mode_result, self._on_mode_result)
        bus.subscribe_messages(f"{self.agent.topics.prefix}/+/+/capabilities", self._on_capabilities)
        bus.on_connect(self._on_connect)

    # -- publishing --------------------------------------------------------------------------------
    def messages(self) -> list[DiscoveryMessage]:
        """The discovery messages of the agent and of every device running now."""
        messages = [agent_message(self.context)]
        for runtime in list(self.agent.runtimes.values()):
            device = runtime.device
            try:
                messages.append(
                    device_message(DeviceInfo(device.device_type, device.topic_id, device.name), self.context)
                )
            except ValueError as exc:
                log.error("%s: not announced to Home Assistant: %s", runtime.key, exc)
        return messages

    def _pending_prefixes(self) -> tuple[str, ...]:
        running = {runtime.device.device_type for runtime in self.agent.runtimes.values()}
        return tuple(
            self.context.device_type_prefix(device_type.name)
            for device_type in self.agent.registry.device_types.values()
            if device_type.name not in running and self.agent.settings.section(device_type.config_section) is not None
        )

    async def publish_discovery(self, *, only_new_devices: bool = False) -> None:
        """Publish every node's retained config, remove the nodes of devices that are gone, remember the rest.

        With `only_new_devices`, nothing is published unless a device runs that was not announced yet.
        """
        async with self._discovery_lock:
            keys = frozenset(self.agent.runtimes)
            if only_new_devices and keys <= self._announced:
                return
            messages = self.messages()
            current = [m.node_id for m in messages]
            state = self.agent.state
            stale = stale_nodes(state.discovery_nodes, current, self._pending_prefixes())
            try:
                for message in messages:
                    await self.agent.bus.publish(message.topic, message.encoded(), retain=True)
                for node_id in stale:
                    await self.agent.bus.publish(self.context.discovery_topic(node_id), b"", retain=True)
            except NotConnectedError as exc:
                log.debug("discovery not published (%s); it is published again on connect", exc)
                return
            if stale:
                log.info("removed from Home Assistant: %s", ", ".join(stale))
            remembered = sorted((set(state.discovery_nodes) - set(stale)) | set(current))
            if remembered != state.discovery_nodes:
                state.discovery_nodes = remembered
                self.agent.persist()
            if keys != self._announced:
                log.info("Home Assistant discovery published for %s", ", ".join(current))
            self._announced = keys

    async def publish_settings(self) -> None:
        """Publish the retained settings in force (the state of the controls); skipped while disconnected."""
        payload = settings_payload(self.agent.mode.value, self.agent.standalone_params())
        with contextlib.suppress(NotConnectedError):
            await self.agent.bus.publish(self.context.settings_topic, dumps(payload), retain=True)

    async def publish_all(self) -> None:
        """Discovery, every device status and the settings, in that order."""
        await self.publish_discovery()
        await self.agent.publish_all_status()
        await self.publish_settings()

    # -- handlers ----------------------------------------------------------------------------------
    async def _on_connect(self) -> None:
        # Before the devices are built, a discovery would take the entities of every device away.
        await self.agent.started.wait()
        await self.publish_discovery()
        await self.publish_settings()

    async def _on_birth(self, message: InboundMessage) -> None:
        # A retained birth is an old one, delivered because we subscribed; only a live one means a restart.
        if message.retain or message.payload.strip().decode(errors="replace").lower() != ONLINE:
            return
        if not self.agent.started.is_set():
            return  # the connect listener publishes everything once the devices are up
        log.info("Home Assistant is online: publishing discovery and states again")
        await self.publish_all()

    async def _on_capabilities(self, message: InboundMessage) -> None:
        if self.agent.started.is_set():
            await self.publish_discovery(only_new_devices=True)

    async def _on_mode_result(self, message: InboundMessage) -> None:
        await self.publish_settings()

    async def _on_setting(self, message: InboundMessage) -> None:
        setting = message.topic.removeprefix(f"{self.context.settings_topic}/").removesuffix("/set")
        if message.retain:
            log.warning("ignoring a retained command on %s: commands must not be retained", message.topic)
            return
        async with self._settings_lock:
            try:
                value = parse_setting(setting, message.payload)
                await self.agent.set_standalone(**{setting: value})
            except ValueError as exc:
                log.warning("Home Assistant: %s change refused: %s", setting, exc)
            await self.publish_settings()
