"""Hook implementations of the OCPP plugin: the device type `ocpp` and the `energy-agent ocpp` commands."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from energy_agent.api import DEFAULT_STANDALONE_POLICY, DeviceContext, DeviceType, hookimpl
from energy_agent_ocpp.config import DEVICE_TYPE, OcppConfig

if TYPE_CHECKING:
    from energy_agent_ocpp.device import OcppConnector


def create_connectors(
    config: OcppConfig, context: DeviceContext, *, device_type: str = DEVICE_TYPE
) -> list[OcppConnector]:
    """One device per configured connector, all sharing one central system (one websockets server).

    `device_type` is the topic segment of the devices: another plugin (Charge Amps' `api: ocpp`) builds its
    devices here under its own.
    """
    # imported here: the ocpp library (with its message schemas) costs memory an agent without `ocpp:` never needs
    from energy_agent_ocpp.central import CentralSystem
    from energy_agent_ocpp.device import OcppConnector

    central = CentralSystem(config, context.clock, metrics=context.metrics)
    return [
        OcppConnector(central, charge_point, connector_id, config=config, context=context, device_type=device_type)
        for charge_point in config.charge_points
        for connector_id in charge_point.connectors
    ]


@hookimpl
def register_device_types(register: Callable[[DeviceType], None]) -> None:
    """OCPP 1.6J chargers connected to the agent, configured under `ocpp:`."""
    register(
        DeviceType(
            name=DEVICE_TYPE,
            config_section="ocpp",
            config_model=OcppConfig,
            create=create_connectors,
            default_policy=DEFAULT_STANDALONE_POLICY,
        )
    )


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    """`energy-agent ocpp simulate`."""
    group = typer.Typer(help="OCPP 1.6J tools.", no_args_is_help=True)

    @group.command()
    def simulate(
        url: Annotated[str, typer.Option(help="The central system, e.g. ws://127.0.0.1:9000 (the id is appended).")],
        charge_point_id: Annotated[str, typer.Option("--id", help="The charge point identity.")],
        password: Annotated[
            str | None,
            typer.Option(envvar="ENERGY_AGENT_OCPP_PASSWORD", help="HTTP Basic auth password (or the env variable)."),
        ] = None,
        connector: Annotated[list[int] | None, typer.Option(help="Connector id; repeat for several.")] = None,
        car_max_current: Annotated[
            float | None, typer.Option(help="Plug in a car drawing up to this current (A); 0: no car.")
        ] = 16.0,
        rejects_tx_default: Annotated[
            Literal["Rejected", "NotSupported"] | None,
            typer.Option(help="Answer every TxDefaultProfile with this status."),
        ] = None,
        max_periods: Annotated[int, typer.Option(help="ChargingScheduleMaxPeriods.")] = 24,
        answer_delay: Annotated[float, typer.Option(help="Seconds to wait before each answer.")] = 0.0,
        drops_connection_on_profile: Annotated[
            bool, typer.Option(help="Drop the connection instead of answering SetChargingProfile.")
        ] = False,
        meter_interval: Annotated[int, typer.Option(help="Seconds between meter values.")] = 10,
        duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    ) -> None:
        """Run a simulated OCPP 1.6J charge point with a car; print its limit and draw whenever they change."""
        from energy_agent_ocpp.simulator import Quirks
        from energy_agent_ocpp.simulator.console import run_console

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        quirks = Quirks(
            rejects_tx_default=rejects_tx_default,
            max_periods=max_periods,
            answer_delay_s=answer_delay,
            drops_connection_on_profile=drops_connection_on_profile,
        )
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                run_console(
                    url,
                    charge_point_id,
                    password,
                    connector_ids=tuple(connector or [1]),
                    car_max_current_a=car_max_current or None,
                    quirks=quirks,
                    meter_interval_s=meter_interval,
                    duration_s=duration,
                )
            )

    cli.add_typer(group, name="ocpp")
