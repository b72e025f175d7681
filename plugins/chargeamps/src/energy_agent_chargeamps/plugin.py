"""Hook implementations of the Charge Amps plugin: the device type, its app options and its CLI commands."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Annotated

import typer

from energy_agent.api import (
    DEFAULT_STANDALONE_POLICY,
    AppOptions,
    ConfigError,
    Device,
    DeviceContext,
    DeviceType,
    hookimpl,
)
from energy_agent_chargeamps.account import ChargeAmpsAccount, ChargePointInfo
from energy_agent_chargeamps.app_options import APP_OPTIONS
from energy_agent_chargeamps.config import ChargeAmpsConfig
from energy_agent_chargeamps.connector import DEVICE_TYPE, ChargeAmpsConnector, ChargeAmpsScheduleConnector
from energy_agent_ocpp.plugin import create_connectors as create_ocpp_connectors


async def create_connectors(config: ChargeAmpsConfig, context: DeviceContext) -> Sequence[Device]:
    """One device per configured connector: of the charger connected to the agent's OCPP central system (api:
    ocpp), or of each charge point of the account (all owned ones unless one is named)."""
    if config.api == "ocpp":
        return create_ocpp_connectors(config.central_system(), context, device_type=DEVICE_TYPE)
    return await create_cloud_connectors(config, context)


async def create_cloud_connectors(config: ChargeAmpsConfig, context: DeviceContext) -> list[ChargeAmpsConnector]:
    """One device per configured connector of each charge point of the account (all owned ones unless one is named)."""
    account = ChargeAmpsAccount(config, context.clock, metrics=context.metrics)
    if config.charge_point_id is not None:
        points = [ChargePointInfo(config.charge_point_id, config.charge_point_id, tuple(config.connector_ids))]
    else:
        try:
            points = await account.discover()
        except BaseException:
            await account.close()
            raise
        if not points:
            await account.close()
            raise ConfigError(["chargeamps: the account owns no charge point"])
    # Only under schedule control does the cloud hold a schedule to read back (see connector.py).
    kind = ChargeAmpsScheduleConnector if config.control_strategy == "schedule" else ChargeAmpsConnector
    connectors = [
        kind(
            account,
            charge_point_id=point.charge_point_id,
            connector_id=connector_id,
            topic_id=config.topic_id(point.charge_point_id, connector_id),
            name=f"{point.name} connector {connector_id}",
            config=config,
            context=context,
        )
        for point in points
        for connector_id in config.connector_ids
    ]
    by_topic: dict[str, list[str]] = {}
    for connector in connectors:
        by_topic.setdefault(connector.topic_id, []).append(f"{connector.charge_point_id}/{connector.connector_id}")
    clashes = [
        f"chargeamps.topic_ids: {' and '.join(keys)} would share the topic id {topic!r}; "
        f"give them distinct ids, e.g. topic_ids: {{{keys[1]!r}: garage-2}}"
        for topic, keys in by_topic.items()
        if len(keys) > 1
    ]
    if clashes:
        raise ConfigError(clashes)
    return connectors


@hookimpl
def register_device_types(register: Callable[[DeviceType], None]) -> None:
    """Charge Amps connectors, configured under `chargeamps:`."""
    register(
        DeviceType(
            name=DEVICE_TYPE,
            config_section="chargeamps",
            config_model=ChargeAmpsConfig,
            create=create_connectors,
            default_policy=DEFAULT_STANDALONE_POLICY,
        )
    )


@hookimpl
def register_app_options(register: Callable[[AppOptions], None]) -> None:
    """The predecessor add-on's Charge Amps options in the Home Assistant app."""
    register(APP_OPTIONS)


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    """`energy-agent chargeamps simulate`."""
    group = typer.Typer(help="Charge Amps tools.", no_args_is_help=True)

    @group.command()
    def simulate(
        port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8080,
        host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    ) -> None:
        """Run a simulated Charge Amps cloud (both APIs) with a demo account and a charging car."""
        from energy_agent_chargeamps.simulator import serve_forever

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_forever(host, port))

    cli.add_typer(group, name="chargeamps")

    @cli.command()
    def demo(
        broker: Annotated[
            str | None, typer.Option(help="HOST:PORT of a broker to use instead of the embedded one.")
        ] = None,
        ocpp: Annotated[
            bool,
            typer.Option(
                "--ocpp",
                help="Drive the charger over local OCPP 1.6J (api: ocpp): a simulated charge point connects to the "
                "agent's central system, instead of a HALO behind the simulated Charge Amps cloud.",
            ),
        ] = False,
        duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    ) -> None:
        """Zero-setup demo: embedded broker, simulated charger and car, today's prices, and a live agent."""
        from energy_agent.testing import EmbeddedBrokerMissing
        from energy_agent_chargeamps.live_demo import run_demo

        try:
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(run_demo(broker=broker, ocpp=ocpp, duration_s=duration))
        except EmbeddedBrokerMissing as exc:
            typer.echo(f"error: {exc} (--broker HOST:PORT)", err=True)
            raise typer.Exit(1) from None
