"""An MQTT client that records what is published, for tests that check what the agent says on the broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

import aiomqtt


class Recorder:
    """Records every message on the topics its client subscribed to; `wait_for` waits for one."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.messages: list[aiomqtt.Message] = []
        self._changed = asyncio.Condition()

    async def pump(self) -> None:
        """Read the client's messages until cancelled."""
        async for message in self.client.messages:
            self.messages.append(message)
            async with self._changed:
                self._changed.notify_all()

    def payloads(self, topic: str) -> list[bytes]:
        """Payloads received on `topic`, oldest first."""
        return [bytes(m.payload) for m in self.messages if m.topic.value == topic]

    def json(self, topic: str) -> list[Any]:
        """JSON payloads received on `topic`, oldest first."""
        return [json.loads(p) for p in self.payloads(topic)]

    async def wait_for(
        self, topic: str, predicate: Callable[[bytes], bool] | None = None, timeout_s: float = 5.0
    ) -> bytes:
        """The first payload on `topic` (already received or still to come) that satisfies `predicate`."""
        async with asyncio.timeout(timeout_s):
            while True:
                for payload in self.payloads(topic):
                    if predicate is None or predicate(payload):
                        return payload
                async with self._changed:
                    await self._changed.wait()


@asynccontextmanager
async def recording(
    host: str, port: int, *topic_filters: str, protocol: Literal["5", "3.1.1"] = "5"
) -> AsyncIterator[Recorder]:
    """A Recorder subscribed to `topic_filters` (default `#`) on the broker at host:port for the block.

    Retained messages on the filters arrive first.
    """
    version = aiomqtt.ProtocolVersion.V5 if protocol == "5" else aiomqtt.ProtocolVersion.V311
    async with aiomqtt.Client(host, port, protocol=version) as client:
        for topic_filter in topic_filters or ("#",):
            await client.subscribe(topic_filter, qos=1)
        recorder = Recorder(client)
        task = asyncio.create_task(recorder.pump())
        try:
            yield recorder
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
