"""Shared fixtures: a private Mosquitto broker, MQTT test clients, a fake device plugin."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests.broker import Broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh Mosquitto on a free port for this test."""
    instance = Broker(tmp_path)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


class Recorder:
    """An MQTT client that records every message on the topics it subscribed to."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.messages: list[aiomqtt.Message] = []
        self._changed = asyncio.Condition()

    async def _pump(self) -> None:
        async for message in self.client.messages:
            self.messages.append(message)
            async with self._changed:
                self._changed.notify_all()

    def payloads(self, topic: str) -> list[bytes]:
        """Payloads received on `topic`, oldest first."""
        return [m.payload for m in self.messages if m.topic.value == topic]  # type: ignore[misc]

    def json(self, topic: str) -> list[Any]:
        """JSON payloads received on `topic`."""
        return [json.loads(p) for p in self.payloads(topic)]

    async def wait_for(self, topic: str, predicate: Any = None, timeout_s: float = 5.0) -> bytes:
        """The first (already received or coming) payload on `topic` that satisfies `predicate`."""

        async def found() -> bytes | None:
            for payload in self.payloads(topic):
                if predicate is None or predicate(payload):
                    return payload
            return None

        async with asyncio.timeout(timeout_s):
            while True:
                hit = await found()
                if hit is not None:
                    return hit
                async with self._changed:
                    await self._changed.wait()


@pytest.fixture
async def recorder(broker: Broker) -> AsyncIterator[Recorder]:
    """A client subscribed to `#` on the test broker."""
    async with aiomqtt.Client(broker.host, broker.port, protocol=aiomqtt.ProtocolVersion.V5) as client:
        await client.subscribe("#", qos=1)
        rec = Recorder(client)
        task = asyncio.create_task(rec._pump())
        try:
            yield rec
        finally:
            task.cancel()
