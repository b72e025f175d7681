"""Send one HEMS command from a shell and wait for its result (`energy-agent hems set|clear|mode`).

The answer is recognised either by MQTT 5 request/response (a response topic and correlation data, which the
agent echoes) or, with MQTT 3.1.1, by the `command_id` on the device's result topic.
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


async def send_command(
    mqtt: MqttSettings,
    topic: str,
    payload: bytes,
    *,
    answer_topic: str | None = None,
    command_id: str | None = None,
    timeout_s: float = 10.0,
) -> dict[str, Any]:
    """Publish `payload` on `topic` and return the agent's JSON answer.

    `answer_topic` + `command_id` identify the answer where MQTT 5 correlation is not available.
    """
    v5 = mqtt.protocol == "5"
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
        protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
        identifier=f"{mqtt.client_id}-cli-{uuid.uuid4().hex[:8]}",
        timeout=timeout_s,
    ) as client:
        if v5:
            await client.subscribe(reply_topic, qos=1)
        if answer_topic is not None and command_id is not None:
            await client.subscribe(answer_topic, qos=1)
        await client.publish(topic, payload, qos=1, properties=properties if v5 else None)
        try:
            async with asyncio.timeout(timeout_s):
                async for message in client.messages:
                    props = message.properties
                    correlated = props is not None and getattr(props, "CorrelationData", None) == correlation
                    if not correlated and message.topic.value != answer_topic:
                        continue
                    try:
                        answer: dict[str, Any] = json.loads(bytes(message.payload))
                    except (ValueError, TypeError):
                        continue
                    if correlated or (command_id is not None and answer.get("command_id") == command_id):
                        return answer
        except TimeoutError:
            raise NoAnswerError(
                f"no answer within {timeout_s:.0f} s: is the agent running, with the same "
                f"hems_prefix ({mqtt.hems_prefix!r}) and topic id?"
            ) from None
    raise NoAnswerError("the broker closed the connection before the agent answered")
