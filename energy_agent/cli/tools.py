"""CLI commands for people around the agent: `plan` (home owners), `contracts` and `hems` (HEMS developers).

No `from __future__ import annotations`: typer reads the annotations of the nested command functions.
"""

import asyncio
import json
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from energy_agent.api.clock import SystemClock
from energy_agent.api.errors import ConfigError, EnergyAgentError
from energy_agent.app.plugins import Registry
from energy_agent.config import CoreSettings, MqttSettings, StandaloneSettings, load_settings, machine_timezone
from energy_agent.hems import contracts
from energy_agent.hems.topics import Topics, check_topic_id
from energy_agent.mqtt.request import NoAnswerError, send_command

CHARGER = "charge-amps"


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _settings(config: Path | None, registry: Registry) -> CoreSettings | None:
    if config is None:
        return None
    try:
        return load_settings(registry, config)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2) from None


def _mqtt(settings: CoreSettings | None, broker: str | None) -> MqttSettings:
    mqtt = settings.mqtt if settings is not None else MqttSettings()
    if broker:
        host, _, port = broker.rpartition(":")
        if not host or not port.isdigit():
            raise _fail(f"--broker {broker!r}: expected HOST:PORT")
        mqtt = mqtt.model_copy(update={"host": host, "port": int(port)})
    return mqtt


def _topic_id(value: str) -> str:
    try:
        return check_topic_id(value)
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _new_command_id() -> str:
    return f"cli-{uuid.uuid4().hex[:12]}"


def add_tool_commands(app: typer.Typer, registry: Registry) -> None:
    """Add `plan`, `contracts …` and `hems …` to the CLI."""

    @app.command()
    def plan(
        prices: Annotated[Path, typer.Option("--prices", help="Price file: a JSON list of {start, end, price}.")],
        threshold: Annotated[
            str | None, typer.Option(help="Price cap in EUR/kWh, or 'none' for no cap (default: config or 0.25).")
        ] = None,
        top_x: Annotated[
            int | None, typer.Option("--top-x", help="Unique price levels to charge at (default: config or 16).")
        ] = None,
        timezone: Annotated[str | None, typer.Option(help="IANA zone (default: config or the machine's).")] = None,
        now: Annotated[str | None, typer.Option(help="Plan as if it were this ISO 8601 time.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
        chart: Annotated[Path | None, typer.Option(help="Also write a PNG chart here.")] = None,
        policy: Annotated[str | None, typer.Option(help="Standalone policy (default: the charger's).")] = None,
        config: Annotated[Path | None, typer.Option("--config", "-c", help="Take defaults from this config.")] = None,
    ) -> None:
        """Explain what standalone mode would charge, slot by slot, for a price file."""
        # imported here: rich tables are not needed by `energy-agent run`, whose memory is budgeted
        from rich.console import Console

        from energy_agent.cli.plan import build_plan, print_plan

        settings = _settings(config, registry)
        base = settings.standalone if settings is not None else StandaloneSettings()
        cap: float | None = base.price_threshold
        if threshold is not None:
            try:
                cap = None if threshold.lower() in ("none", "null", "off") else float(threshold)
            except ValueError:
                raise _fail(f"--threshold {threshold!r}: expected a number in EUR/kWh or 'none'") from None
        try:
            checked = StandaloneSettings(
                price_threshold=cap, top_x_charge_count=top_x if top_x is not None else base.top_x_charge_count
            )
        except ValueError as exc:
            raise _fail(str(exc).splitlines()[0] + ": " + "; ".join(str(exc).splitlines()[1:3])) from None
        zone_name = timezone or (settings.timezone if settings is not None else machine_timezone())
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise _fail(f"--timezone {zone_name!r}: not an IANA zone name") from None
        when = SystemClock().now()
        if now is not None:
            try:
                when = datetime.fromisoformat(now)
            except ValueError:
                raise _fail(f"--now {now!r}: not an ISO 8601 time") from None
            if when.tzinfo is None:
                when = when.replace(tzinfo=zone)
        name = policy or next((t.default_policy for t in registry.device_types.values() if t.default_policy), None)
        if name is None or name not in registry.policies:
            known = ", ".join(sorted(registry.policies)) or "none (install a device plugin)"
            raise _fail(f"standalone policy {name!r} not found; known: {known}")
        try:
            document = build_plan(
                registry.policies[name],
                prices,
                threshold=checked.price_threshold,
                top_x=checked.top_x_charge_count,
                zone=zone,
                now=when,
            )
        except EnergyAgentError as exc:
            raise _fail(str(exc), code=1) from None
        print_plan(document, as_json=as_json, chart=chart, console=Console(width=120))

    contracts_app = typer.Typer(help="The published HEMS contract: list, show and validate payloads.")
    app.add_typer(contracts_app, name="contracts")

    @contracts_app.command("list")
    def contracts_list() -> None:
        """List the contract's JSON Schemas by name."""
        for name in contracts.list_contracts():
            typer.echo(name)

    @contracts_app.command("show")
    def contracts_show(name: Annotated[str, typer.Argument(help="A name from `contracts list`.")]) -> None:
        """Print one JSON Schema."""
        try:
            typer.echo(json.dumps(contracts.load_schema(name), indent=2))
        except KeyError:
            raise _fail(f"no contract named {name!r}; see `energy-agent contracts list`") from None

    @contracts_app.command("validate")
    def contracts_validate(
        name: Annotated[str, typer.Argument(help="A name from `contracts list`.")],
        file: Annotated[Path, typer.Argument(help="JSON file to check ('-' for standard input).")],
    ) -> None:
        """Check a payload against a schema; prints each fault with its JSON path, exit 1 when invalid."""
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        try:
            instance = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _fail(f"{file}: not JSON (line {exc.lineno}: {exc.msg})", code=1) from None
        try:
            problems = contracts.validate(name, instance)
        except KeyError:
            raise _fail(f"no contract named {name!r}; see `energy-agent contracts list`") from None
        for problem in problems:
            typer.echo(f"{problem.path}: {problem.message}")
        if problems:
            raise typer.Exit(1)
        typer.echo(f"{file}: valid {name}")

    hems_app = typer.Typer(help="Send HEMS commands to a running agent and print its answer.")
    app.add_typer(hems_app, name="hems")

    def send(
        topic: str, payload: bytes, mqtt: MqttSettings, timeout_s: float, answer_topic: str, command_id: str | None
    ) -> None:
        try:
            answer = asyncio.run(
                send_command(
                    mqtt, topic, payload, answer_topic=answer_topic, command_id=command_id, timeout_s=timeout_s
                )
            )
        except NoAnswerError as exc:
            raise _fail(str(exc), code=1) from None
        except OSError as exc:
            raise _fail(f"cannot reach the broker {mqtt.host}:{mqtt.port}: {exc}", code=1) from None
        except Exception as exc:  # aiomqtt errors: refused credentials and the like
            raise _fail(f"MQTT: {exc}", code=1) from None
        typer.echo(json.dumps(answer, indent=2))
        if not answer.get("accepted"):
            raise typer.Exit(1)

    Broker = Annotated[str | None, typer.Option(help="HOST:PORT of the broker (default: config or 127.0.0.1:1883).")]
    Config = Annotated[Path | None, typer.Option("--config", "-c", help="Take the broker and prefix from here.")]
    DeviceType = Annotated[str, typer.Option("--device-type", help="Device family in the topic.")]
    Timeout = Annotated[float, typer.Option("--timeout", help="Seconds to wait for the answer.")]

    @hems_app.command("set")
    def hems_set(
        topic_id: Annotated[str, typer.Argument(help="The device's topic id (a charger connector: its id).")],
        period: Annotated[
            list[str] | None, typer.Option("--period", help="START/END in ISO 8601; repeat for more periods.")
        ] = None,
        max_current: Annotated[float | None, typer.Option("--max-current", help="Amperes per phase.")] = None,
        expires_at: Annotated[str | None, typer.Option("--expires-at", help="ISO 8601 expiry.")] = None,
        command_id: Annotated[str | None, typer.Option("--command-id", help="Echoed in the result.")] = None,
        payload: Annotated[
            str | None, typer.Option("--payload", help="A whole JSON payload, or @FILE (overrides the others).")
        ] = None,
        device_type: DeviceType = CHARGER,
        broker: Broker = None,
        config: Config = None,
        timeout: Timeout = 10.0,
    ) -> None:
        """Send a schedule and wait for the result."""
        _topic_id(topic_id)
        mqtt = _mqtt(_settings(config, registry), broker)
        topics = Topics(mqtt.hems_prefix)
        if payload is not None:
            body = Path(payload[1:]).read_bytes() if payload.startswith("@") else payload.encode()
            try:
                given = json.loads(body)
                command_id = given.get("command_id") if isinstance(given, dict) else None
            except ValueError:
                command_id = None
        else:
            command_id = command_id or _new_command_id()
            periods: list[dict[str, Any]] = []
            for item in period or []:
                start, sep, end = item.partition("/")
                if not sep:
                    raise _fail(f"--period {item!r}: expected START/END")
                periods.append({"start": start, "end": end})
            document: dict[str, Any] = {"source": "hems", "periods": periods}
            for key, value in (("max_current", max_current), ("expires_at", expires_at), ("command_id", command_id)):
                if value is not None:
                    document[key] = value
            body = json.dumps(document).encode()
        result_topic = topics.schedule_result(device_type, topic_id)
        send(topics.schedule_set(device_type, topic_id), body, mqtt, timeout, result_topic, command_id)

    @hems_app.command("clear")
    def hems_clear(
        topic_id: Annotated[str, typer.Argument(help="The device's topic id.")],
        command_id: Annotated[str | None, typer.Option("--command-id", help="Echoed in the result.")] = None,
        device_type: DeviceType = CHARGER,
        broker: Broker = None,
        config: Config = None,
        timeout: Timeout = 10.0,
    ) -> None:
        """Clear the schedule (stop charging) and wait for the result."""
        mqtt = _mqtt(_settings(config, registry), broker)
        topics = Topics(mqtt.hems_prefix)
        command_id = command_id or _new_command_id()
        body = json.dumps({"command_id": command_id}).encode()
        result_topic = topics.schedule_result(device_type, _topic_id(topic_id))
        send(topics.schedule_clear(device_type, topic_id), body, mqtt, timeout, result_topic, command_id)

    @hems_app.command("mode")
    def hems_mode(
        mode: Annotated[str, typer.Argument(help="standalone or hems.")],
        broker: Broker = None,
        config: Config = None,
        timeout: Timeout = 10.0,
    ) -> None:
        """Switch the agent's operation mode and wait for the answer."""
        mqtt = _mqtt(_settings(config, registry), broker)
        topics = Topics(mqtt.hems_prefix)
        command_id = _new_command_id()
        body = json.dumps({"operation_mode": mode, "command_id": command_id}).encode()
        send(topics.mode_set, body, mqtt, timeout, topics.mode_result, command_id)
