"""Send one HEMS command from a shell and wait for its answer (`energy-agent hems set|clear|mode`).

The CLI speaks to whatever broker the user has: it tries MQTT 5 and falls back to 3.1.1 when the broker refuses
that protocol version (the demo's embedded broker, older brokers), unless a version is forced. The answer is
recognised by MQTT 5 request/response (a response topic and correlation data, which the agent echoes) or, with
MQTT 3.1.1, by the `command_id` in the answer on the command's result topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from energy_agent.config import MqttSettings

log = logging.getLogger(__name__)

Protocol = Literal["auto", "5", "3.1.1"]
"""`auto`: MQTT 5, or 3.1.1 when the broker refuses 5."""

UNSUPPORTED_PROTOCOL_CODES = frozenset({1, 132})
"""CONNACK codes meaning "wrong protocol version": 1 in MQTT 3.1.1, 0x84 (132) in MQTT 5."""


class NoAnswerError(TimeoutError):
    """The agent did not answer in time (not running, wrong prefix or topic id, or broker trouble)."""


def _refused_protocol(exc: aiomqtt.MqttError) -> bool:
    code = getattr(exc, "rc", None)
    value = getattr(code, "value", code)
    return isinstance(value, int) and value in UNSUPPORTED_PROTOCOL_CODES


def _client(mqtt: MqttSettings, version: aiomqtt.ProtocolVersion, timeout_s: float) -> aiomqtt.Client:
    return aiomqtt.Client(
        mqtt.host,
        mqtt.port,
        username=mqtt.username,
        password=mqtt.password.get_secret_value() if mqtt.password else None,
        protocol=version,
        identifier=f"{mqtt.client_id}-cli-{uuid.uuid4().hex[:8]}",
        timeout=timeout_s,
    )


@contextlib.asynccontextmanager
async def connect(
    mqtt: MqttSettings, protocol: Protocol, timeout_s: float
) -> AsyncIterator[tuple[aiomqtt.Client, bool]]:
    """A connected client and whether it speaks MQTT 5; with `auto`, 3.1.1 when the broker refuses 5."""
    versions = {"5": [True], "3.1.1": [False], "auto": [True, False]}[protocol]
    for v5 in versions:
        client = _client(mqtt, aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311, timeout_s)
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            if v5 and protocol == "auto" and _refused_protocol(exc):
                log.info("the broker refused MQTT 5 (%s); trying 3.1.1", exc)
                continue
            if isinstance(exc.__context__, OSError):  # aiomqtt wraps a refused or unreachable socket
                raise exc.__context__ from None
            raise
        try:
            yield client, v5
        finally:
            await client.__aexit__(None, None, None)
        return


async def send_command(
    mqtt: MqttSettings,
    topic: str,
    payload: bytes,
    *,
    answer_topic: str | None = None,
    command_id: str | None = None,
    timeout_s: float = 10.0,
    protocol: Protocol = "auto",
) -> dict[str, Any]:
    """Publish `payload` on `topic` and return the agent's JSON answer.

    Without MQTT 5 the answer is the one on `answer_topic` that carries `command_id` (or, for a command without
    one, the first answer there without one); ValueError when no `answer_topic` is given then.
    """
    correlation = uuid.uuid4().bytes
    reply_topic = f"{mqtt.hems_prefix}/cli/{uuid.uuid4().hex}/result"
    async with connect(mqtt, protocol, timeout_s) as (client, v5):
        properties = None
        if v5:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.ResponseTopic = reply_topic
            properties.CorrelationData = correlation
            await client.subscribe(reply_topic, qos=1)
        elif answer_topic is None:
            raise ValueError("the broker speaks MQTT 3.1.1 only: the answer topic must be named to find the answer")
        else:
            await client.subscribe(answer_topic, qos=1)
        await client.publish(topic, payload, qos=1, properties=properties)
        try:
            async with asyncio.timeout(timeout_s):
                async for message in client.messages:
                    answer = _answer(message, correlation if v5 else None, command_id)
                    if answer is not None:
                        return answer
        except TimeoutError:
            raise NoAnswerError(
                f"no answer within {timeout_s:.0f} s: is the agent running, with the same "
                f"hems_prefix ({mqtt.hems_prefix!r}) and topic id?"
            ) from None
    raise NoAnswerError("the broker closed the connection before the agent answered")


def _answer(message: aiomqtt.Message, correlation: bytes | None, command_id: str | None) -> dict[str, Any] | None:
    """The decoded answer when `message` is the one awaited, else None."""
    if correlation is not None:
        props = message.properties
        if props is None or getattr(props, "CorrelationData", None) != correlation:
            return None
    try:
        answer = json.loads(bytes(message.payload))
    except (ValueError, TypeError):
        return None
    if not isinstance(answer, dict):
        return None
    if correlation is None and answer.get("command_id") != command_id:
        return None
    return answer


async def device_types_with(
    mqtt: MqttSettings, topic_id: str, *, protocol: Protocol = "auto", timeout_s: float = 10.0, settle_s: float = 0.3
) -> list[str]:
    """The device types the agent announces a device `topic_id` for, read from its retained capabilities.

    Waits at most `settle_s` for them after subscribing (retained messages come at once); sorted, maybe empty.
    """
    found: set[str] = set()
    prefix_levels = mqtt.hems_prefix.count("/") + 1
    async with connect(mqtt, protocol, timeout_s) as (client, _):
        await client.subscribe(f"{mqtt.hems_prefix}/+/{topic_id}/capabilities", qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(settle_s):
                async for message in client.messages:
                    # checked here too: some brokers (amqtt, the demo's) match retained messages too loosely
                    levels = message.topic.value.split("/")
                    exact = len(levels) == prefix_levels + 3 and levels[prefix_levels + 1] == topic_id
                    if exact and message.payload:  # an empty retained payload is a removed device
                        found.add(levels[prefix_levels])
    return sorted(found)
