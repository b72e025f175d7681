"""`energy-agent ocpp simulate`: one simulated charger with a car, printing what it holds and draws as it changes."""

from __future__ import annotations

import asyncio
import logging

from energy_agent.api import SystemClock
from energy_agent_ocpp.simulator.car import Car
from energy_agent_ocpp.simulator.charger import ChargerSimulator
from energy_agent_ocpp.simulator.quirks import Quirks

log = logging.getLogger("energy_agent_ocpp.simulator")


async def run_console(
    url: str,
    charge_point_id: str,
    password: str | None,
    *,
    connector_ids: tuple[int, ...],
    car_max_current_a: float | None,
    quirks: Quirks,
    meter_interval_s: int,
    duration_s: float | None = None,
) -> None:
    """Run until interrupted (or for `duration_s`), printing a line whenever a connector's limit or draw changes."""
    simulator = ChargerSimulator(
        url,
        charge_point_id,
        password,
        clock=SystemClock(),
        connectors=connector_ids,
        quirks=quirks,
        meter_interval_s=meter_interval_s,
        reconnect_delay_s=5.0,
    )
    await simulator.start()
    if car_max_current_a is not None:
        await simulator.plug_in(connector_ids[0], Car(max_current_a=car_max_current_a))
    shown: dict[int, tuple[object, ...]] = {}
    loop = asyncio.get_running_loop()
    ends = None if duration_s is None else loop.time() + duration_s
    try:
        while ends is None or loop.time() < ends:
            for connector_id in connector_ids:
                active = simulator.active_limit(connector_id)
                where = (
                    "no profile"
                    if active is None
                    else (f"{active.profile.purpose} {active.profile.profile_id}, stack {active.profile.stack_level}")
                )
                line = (
                    f"{'online' if simulator.connected.is_set() else 'offline'}",
                    f"connector {connector_id}: limit {simulator.limit_at(connector_id):g} A ({where})",
                    f"car draws {simulator.current_a(connector_id):g} A, {simulator.power_kw(connector_id):.2f} kW",
                )
                if shown.get(connector_id) != line:
                    shown[connector_id] = line
                    print(" | ".join(line), flush=True)
            await asyncio.sleep(1.0)
    finally:
        await simulator.stop()
