"""`energy-agent hems set|clear|mode`: send one HEMS command to a running agent and print its answer.

Works against any broker a user has: MQTT 5, or 3.1.1 when the broker refuses 5 (`--protocol` forces one).
The device's family (`charge-amps`, `switched-load`, …) is read from the agent's retained capabilities unless
`--device-type` names it. No `from __future__ import annotations`: typer reads the annotations.
"""

import asyncio
import json
import uuid
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from energy_agent.app.plugins import Registry
from energy_agent.cli.common import broker_settings, fail, optional_config
from energy_agent.config import MqttSettings
from energy_agent.hems.topics import Topics, check_topic_id
from energy_agent.mqtt.request import NoAnswerError, Protocol, device_types_with, send_command

Broker = Annotated[str | None, typer.Option(help="HOST:PORT of the broker (default: config or 127.0.0.1:1883).")]
Config = Annotated[Path | None, typer.Option("--config", "-c", help="Take the broker and prefix from here.")]
DeviceTypeOption = Annotated[
    str | None,
    typer.Option("--device-type", help="Device family in the topic (default: found from the agent's capabilities)."),
]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds to wait for the answer.")]
ProtocolOption = Annotated[
    str | None,
    typer.Option("--protocol", help="MQTT version: 5 or 3.1.1 (default: 5, falling back to 3.1.1 if refused)."),
]
TopicId = Annotated[str, typer.Argument(help="The device's topic id (a charger connector: its id).")]


def new_command_id() -> str:
    """A fresh command id for a command the user gave none."""
    return f"cli-{uuid.uuid4().hex[:12]}"


def _topic_id(value: str) -> str:
    try:
        return check_topic_id(value)
    except ValueError as exc:
        fail(str(exc))


def _protocol(option: str | None, mqtt: MqttSettings) -> Protocol:
    if option is not None:
        if option not in ("5", "3.1.1"):
            fail(f"--protocol {option!r}: expected 5 or 3.1.1")
        return cast(Protocol, option)
    # a config file that names a version wins over the automatic choice
    return cast(Protocol, mqtt.protocol) if "protocol" in mqtt.model_fields_set else "auto"


def _run(coro: Any, mqtt: MqttSettings) -> Any:
    try:
        return asyncio.run(coro)
    except NoAnswerError as exc:
        fail(str(exc), code=1)
    except OSError as exc:
        fail(f"cannot reach the broker {mqtt.host}:{mqtt.port}: {exc}", code=1)
    except Exception as exc:  # aiomqtt errors: refused credentials and the like
        fail(f"MQTT: {exc}", code=1)


def _device_type(given: str | None, topic_id: str, mqtt: MqttSettings, protocol: Protocol, timeout_s: float) -> str:
    if given is not None:
        return _topic_id(given)
    found: list[str] = _run(device_types_with(mqtt, topic_id, protocol=protocol, timeout_s=timeout_s), mqtt)
    if len(found) == 1:
        return found[0]
    if not found:
        fail(
            f"no device {topic_id!r} announced under {mqtt.hems_prefix}/+/{topic_id}/capabilities on "
            f"{mqtt.host}:{mqtt.port}: is the agent running, with this hems_prefix? (or give --device-type)",
            code=1,
        )
    fail(f"devices of several types have the id {topic_id!r} ({', '.join(found)}): give --device-type")


def _send(
    topic: str, body: bytes, *, mqtt: MqttSettings, protocol: Protocol, timeout_s: float, answer: str, cid: str | None
) -> None:
    result: dict[str, Any] = _run(
        send_command(mqtt, topic, body, answer_topic=answer, command_id=cid, timeout_s=timeout_s, protocol=protocol),
        mqtt,
    )
    typer.echo(json.dumps(result, indent=2))
    if not result.get("accepted"):
        raise typer.Exit(1)


def add_hems_commands(app: typer.Typer, registry: Registry) -> None:
    """Add the `hems` group to the CLI."""
    group = typer.Typer(help="Send HEMS commands to a running agent and print its answer.")
    app.add_typer(group, name="hems")

    @group.command("set")
    def hems_set(
        topic_id: TopicId,
        period: Annotated[
            list[str] | None, typer.Option("--period", help="START/END in ISO 8601; repeat for more periods.")
        ] = None,
        max_current: Annotated[float | None, typer.Option("--max-current", help="Amperes per phase.")] = None,
        expires_at: Annotated[str | None, typer.Option("--expires-at", help="ISO 8601 expiry.")] = None,
        command_id: Annotated[str | None, typer.Option("--command-id", help="Echoed in the result.")] = None,
        payload: Annotated[
            str | None, typer.Option("--payload", help="A whole JSON payload, or @FILE (overrides the others).")
        ] = None,
        device_type: DeviceTypeOption = None,
        broker: Broker = None,
        config: Config = None,
        timeout: Timeout = 10.0,
        protocol: ProtocolOption = None,
    ) -> None:
        """Send a schedule and wait for the result."""
        _topic_id(topic_id)
        mqtt = broker_settings(optional_config(config, registry), broker)
        version = _protocol(protocol, mqtt)
        if payload is not None:
            body = Path(payload[1:]).read_bytes() if payload.startswith("@") else payload.encode()
            try:
                given = json.loads(body)
            except ValueError:
                given = None
            command_id = given.get("command_id") if isinstance(given, dict) else None
        else:
            command_id = command_id or new_command_id()
            periods: list[dict[str, Any]] = []
            for item in period or []:
                start, sep, end = item.partition("/")
                if not sep:
                    fail(f"--period {item!r}: expected START/END")
                periods.append({"start": start, "end": end})
            document: dict[str, Any] = {"source": "hems", "periods": periods}
            for key, value in (("max_current", max_current), ("expires_at", expires_at), ("command_id", command_id)):
                if value is not None:
                    document[key] = value
            body = json.dumps(document).encode()
        topics = Topics(mqtt.hems_prefix)
        family = _device_type(device_type, topic_id, mqtt, version, timeout)
        _send(
            topics.schedule_set(family, topic_id), body, mqtt=mqtt, protocol=version, timeout_s=timeout,
            answer=topics.schedule_result(family, topic_id), cid=command_id,
        )  # fmt: skip

    @group.command("clear")
    def hems_clear(
        topic_id: TopicId,
        command_id: Annotated[str | None, typer.Option("--command-id", help="Echoed in the result.")] = None,
        device_type: DeviceTypeOption = None,
        broker: Broker = None,
        config: Config = None,
        timeout: Timeout = 10.0,
        protocol: ProtocolOption = None,
    ) -> None:
        """Clear the schedule (stop the device) and wait for the result."""
        _topic_id(topic_id)
        mqtt = broker_settings(optional_config(config, registry), broker)
        version = _protocol(protocol, mqtt)
        command_id = command_id or new_command_id()
        topics = Topics(mqtt.hems_prefix)
        family = _device_type(device_type, topic_id, mqtt, version, timeout)
        _send(
            topics.schedule_clear(family, topic_id), json.dumps({"command_id": command_id}).encode(), mqtt=mqtt,
            protocol=version, timeout_s=timeout, answer=topics.schedule_result(family, topic_id), cid=command_id,
        )  # fmt: skip

    @group.command("mode")
    def hems_mode(
        mode: Annotated[str, typer.Argument(help="standalone or hems.")],
        broker: Broker = None,
        config: Config = None,
        timeout: Timeout = 10.0,
        protocol: ProtocolOption = None,
    ) -> None:
        """Switch the agent's operation mode and wait for the answer."""
        mqtt = broker_settings(optional_config(config, registry), broker)
        version = _protocol(protocol, mqtt)
        command_id = new_command_id()
        topics = Topics(mqtt.hems_prefix)
        body = json.dumps({"operation_mode": mode, "command_id": command_id}).encode()
        _send(
            topics.mode_set, body, mqtt=mqtt, protocol=version, timeout_s=timeout, answer=topics.mode_result,
            cid=command_id,
        )  # fmt: skip
