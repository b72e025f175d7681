"""Send one HEMS command from a shell and wait for its result (`energy-agent hems set|clear`).

Uses MQTT 5 request/response: the command carries a response topic and correlation data, and the agent
answers there as well as on the result topic.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from energy_agent.config import MqttSettings


class NoAnswerError(TimeoutError):
    """The agent did not answer in time (not running, wrong prefix or topic id, or broker trouble)."""


async def send_command(mqtt: MqttSettings, topic: str, payload: bytes, *, timeout_s: float = 10.0) -> dict[str, Any]:
    """Publish `payload` on `topic` and return the agent's JSON answer."""
    correlation = uuid.uuid4().bytes
    reply_topic = f"{mqtt.hems_prefix}/cli/{uuid.uuid4().hex}/result"
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.ResponseTopic = reply_topic
    properties.CorrelationData = correlation
    async with aiomqtt.Client(
        mqtt.host,
        mqtt.port,
        username=mqtt.username,
        password=mqtt.password.get_secret_value() if mqtt.password else None,
        protocol=aiomqtt.ProtocolVersion.V5,
        identifier=f"{mqtt.client_id}-cli-{uuid.uuid4().hex[:8]}",
        timeout=timeout_s,
    ) as client:
        await client.subscribe(reply_topic, qos=1)
        await client.publish(topic, payload, qos=1, properties=properties)
        try:
            async with asyncio.timeout(timeout_s):
                async for message in client.messages:
                    props = message.properties
                    if props is not None and getattr(props, "CorrelationData", None) == correlation:
                        answer: dict[str, Any] = json.loads(bytes(message.payload))
                        return answer
        except TimeoutError:
            raise NoAnswerError(
                f"no answer on {reply_topic} within {timeout_s:.0f} s: is the agent running, with the same "
                f"hems_prefix ({mqtt.hems_prefix!r}) and topic id?"
            ) from None
    raise NoAnswerError("the broker closed the connection before the agent answered")
