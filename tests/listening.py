"""Short-lived MQTT clients for tests: record a few topics, or publish once as a HEMS would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiomqtt

from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder, recording


@asynccontextmanager
async def listening(broker: Broker, *topics: str) -> AsyncIterator[Recorder]:
    """A fresh client recording `topics` (retained messages arrive first)."""
    async with recording(broker.host, broker.port, *topics) as recorder:
        yield recorder


async def publish_once(broker: Broker, topic: str, payload: bytes | str) -> None:
    """Publish from a short-lived client at QoS 1."""
    async with aiomqtt.Client(broker.host, broker.port, protocol=aiomqtt.ProtocolVersion.V5) as client:
        await client.publish(topic, payload, qos=1)
