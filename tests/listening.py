"""Short-lived MQTT clients for tests: record a few topics, or publish once as a HEMS would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiomqtt

from tests.broker import Broker
from tests.conftest import Recorder


@asynccontextmanager
async def listening(broker: Broker, *topics: str) -> AsyncIterator[Recorder]:
    """A fresh client recording `topics` (retained messages arrive first)."""
    async with aiomqtt.Client(broker.host, broker.port, protocol=aiomqtt.ProtocolVersion.V5) as client:
        for topic in topics:
            await client.subscribe(topic, qos=1)
        recorder = Recorder(client)
        task = asyncio.create_task(recorder._pump())
        try:
            yield recorder
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def publish_once(broker: Broker, topic: str, payload: bytes | str) -> None:
    """Publish from a short-lived client at QoS 1."""
    async with aiomqtt.Client(broker.host, broker.port, protocol=aiomqtt.ProtocolVersion.V5) as client:
        await client.publish(topic, payload, qos=1)
