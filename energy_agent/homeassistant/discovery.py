"""Home Assistant MQTT discovery payloads, built by pure functions from the entity descriptions.

Device-based discovery: one retained message per Home Assistant device on
`{discovery_prefix}/device/{node_id}/config`, holding the device (`dev`), the origin (`o`), the shared
availability and state topic, and every entity of the device under `cmps`. An empty retained payload on
the same topic removes the device's entities. Node ids, component ids and unique ids only use
`[a-zA-Z0-9_-]`; `default_entity_id` (which replaced the deprecated `object_id`) is `platform.slug`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from energy_agent.hems.topics import Topics
from energy_agent.homeassistant.entities import AGENT_ENTITIES, DEVICE_ENTITIES, EntityDescription, Platform
from energy_agent.mqtt.bus import OFFLINE, ONLINE

ID_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
BASE_NODE_ID = "energy_agent"
DEFAULT_HEMS_PREFIX = "hems"
ORIGIN_NAME = "energy-agent"
QOS = 1


@dataclass(frozen=True, slots=True)
class DiscoveryContext:
    """Everything that names topics and ids: the HEMS topics, the discovery prefix, the agent's version."""

    topics: Topics
    discovery_prefix: str = "homeassistant"
    sw_version: str = "0.0.0"

    @property
    def birth_topic(self) -> str:
        """Where Home Assistant announces `online` after it (re)started."""
        return f"{self.discovery_prefix}/status"

    @property
    def settings_topic(self) -> str:
        """Retained JSON of the agent settings in force, the state topic of the controls."""
        return f"{self.topics.prefix}/agent/settings"

    def agent_topic(self, name: str) -> str:
        """One of the agent's own retained topics, e.g. `{hems_prefix}/agent/prices`."""
        return f"{self.topics.prefix}/agent/{name}"

    @property
    def prices_topic(self) -> str:
        """Retained JSON of the price source's health (state and attributes of the price data entity)."""
        return self.agent_topic("prices")

    def setting_command_topic(self, setting: str) -> str:
        """Where Home Assistant sends a new value of one standalone setting."""
        return f"{self.settings_topic}/{setting}/set"

    @property
    def setting_command_filter(self) -> str:
        """Subscription filter of every setting command topic."""
        return f"{self.settings_topic}/+/set"

    def command_topic(self, desc: EntityDescription) -> str | None:
        """A control's command topic: the contract's mode topic for the mode, the agent's own for the rest."""
        if desc.setting is None:
            return None
        if desc.setting == "operation_mode":
            return self.topics.mode_set
        return self.setting_command_topic(desc.setting)

    @property
    def agent_node_id(self) -> str:
        """Node id of the agent's own device; the HEMS prefix keeps two agents on one broker apart."""
        if self.topics.prefix == DEFAULT_HEMS_PREFIX:
            return BASE_NODE_ID
        return checked_id(f"{BASE_NODE_ID}_{self.topics.prefix.replace('/', '_')}")

    def device_node_id(self, device_type: str, topic_id: str) -> str:
        """Node id of one device, e.g. `energy_agent_charge-amps_1`."""
        return checked_id(f"{self.agent_node_id}_{device_type}_{topic_id}")

    def device_type_prefix(self, device_type: str) -> str:
        """The start every node id of `device_type` shares."""
        return f"{self.agent_node_id}_{device_type}_"

    def discovery_topic(self, node_id: str) -> str:
        """The retained config topic of one node."""
        return f"{self.discovery_prefix}/device/{checked_id(node_id)}/config"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What discovery needs to know of one device."""

    device_type: str
    topic_id: str
    name: str


@dataclass(frozen=True, slots=True)
class DiscoveryMessage:
    """One node's retained discovery message."""

    node_id: str
    topic: str
    payload: dict[str, Any]

    def encoded(self) -> bytes:
        """The payload as compact JSON."""
        return json.dumps(self.payload, separators=(",", ":")).encode()


def checked_id(value: str) -> str:
    """`value` when Home Assistant accepts it as a node, component or unique id; ValueError otherwise."""
    if not ID_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid discovery id: only letters, digits, '_' and '-'")
    return value


def entity_slug(value: str) -> str:
    """The object part of an entity id: lower case letters, digits and single underscores."""
    return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")


def component_config(
    desc: EntityDescription, node_id: str, context: DiscoveryContext, device_key: str | None = None
) -> dict[str, Any]:
    """One entry of `cmps`: platform, ids, how to read the state and (for controls) where to send commands. A
    device's button sends the device's key (`charge-amps/1`)."""
    unique_id = checked_id(f"{node_id}_{desc.key}")
    config: dict[str, Any] = {
        "p": desc.platform.value,
        "name": desc.name,
        "unique_id": unique_id,
        "default_entity_id": f"{desc.platform.value}.{entity_slug(unique_id)}",
    }
    if desc.platform is Platform.BUTTON:
        config["payload_press"] = device_key
    else:
        config["value_template"] = desc.value_template
    optional = {
        "device_class": desc.device_class,
        "state_class": desc.state_class,
        "unit_of_measurement": desc.unit,
        "entity_category": desc.category.value if desc.category else None,
        "icon": desc.icon,
        "command_topic": context.command_topic(desc),
    }
    config.update({key: value for key, value in optional.items() if value is not None})
    if desc.agent_topic is not None:
        config["state_topic"] = config["json_attributes_topic"] = context.agent_topic(desc.agent_topic)
    if desc.options:
        config["options"] = list(desc.options)
    if desc.number is not None:
        config.update(min=desc.number.min_value, max=desc.number.max_value, step=desc.number.step, mode="box")
    if desc.platform is Platform.SWITCH:
        config.update(payload_on="ON", payload_off="OFF")
    if desc.pattern is not None:
        config["pattern"] = desc.pattern
    return config


def _node_payload(
    *,
    device: dict[str, Any],
    state_topic: str,
    descriptions: tuple[EntityDescription, ...],
    node_id: str,
    context: DiscoveryContext,
    device_key: str | None = None,
) -> dict[str, Any]:
    return {
        "dev": device,
        "o": {"name": ORIGIN_NAME, "sw": context.sw_version},
        "availability": [
            {"topic": context.topics.agent_availability, "payload_available": ONLINE, "payload_not_available": OFFLINE}
        ],
        "state_topic": state_topic,
        "qos": QOS,
        "cmps": {checked_id(desc.key): component_config(desc, node_id, context, device_key) for desc in descriptions},
    }


def agent_message(context: DiscoveryContext) -> DiscoveryMessage:
    """The agent's own device: its controls, read from the settings topic."""
    node_id = context.agent_node_id
    prefix = context.topics.prefix
    device = {
        "ids": [node_id],
        "name": "Energy Agent" if prefix == DEFAULT_HEMS_PREFIX else f"Energy Agent ({prefix})",
        "mf": ORIGIN_NAME,
        "mdl": "energy-agent",
        "sw": context.sw_version,
    }
    payload = _node_payload(
        device=device,
        state_topic=context.settings_topic,
        descriptions=AGENT_ENTITIES,
        node_id=node_id,
        context=context,
    )
    return DiscoveryMessage(node_id=node_id, topic=context.discovery_topic(node_id), payload=payload)


def device_message(info: DeviceInfo, context: DiscoveryContext) -> DiscoveryMessage:
    """One device (a charger connector, say), linked to the agent's device, read from its status topic."""
    node_id = context.device_node_id(info.device_type, info.topic_id)
    device = {"ids": [node_id], "name": info.name, "mdl": info.device_type, "via_device": context.agent_node_id}
    payload = _node_payload(
        device=device,
        state_topic=context.topics.status(info.device_type, info.topic_id),
        descriptions=DEVICE_ENTITIES,
        node_id=node_id,
        context=context,
        device_key=f"{info.device_type}/{info.topic_id}",
    )
    return DiscoveryMessage(node_id=node_id, topic=context.discovery_topic(node_id), payload=payload)


def discovery_messages(devices: list[DeviceInfo], context: DiscoveryContext) -> list[DiscoveryMessage]:
    """The agent's message, then one per device in the order given."""
    return [agent_message(context), *(device_message(info, context) for info in devices)]


def stale_nodes(published: list[str], current: list[str], pending_prefixes: tuple[str, ...] = ()) -> list[str]:
    """Node ids published before and not present now, except those of device types still coming up."""
    present = set(current)
    return [n for n in published if n not in present and not n.startswith(pending_prefixes)]
