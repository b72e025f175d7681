"""The simulated charger behind `energy-agent demo`: the Charge Amps cloud, or (`--ocpp`) an OCPP charge point.

Either way a HALO with a car plugged into connector 1, on the agent's `hems/charge-amps/1` topics; each gives the
`chargeamps:` section that reaches it and says what it holds.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from energy_agent.api import Clock
from energy_agent.testing import free_port
from energy_agent_chargeamps.simulator import (
    DEMO_API_KEY,
    DEMO_CHARGE_POINT_ID,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    Simulator,
    populate_demo,
)
from energy_agent_ocpp.simulator import Car, ChargerSimulator

CONNECTOR_ID = 1
OCPP_CHARGE_POINT_ID = "HALO-DEMO"
LOOK_AHEAD_S = 86400
"""How far ahead the OCPP charger's limits are shown."""
SHOWN_STEPS = 5


class DemoCharger(Protocol):
    """A simulated charger the demo's agent drives."""

    title: str

    async def start(self) -> dict[str, Any]:
        """Start it; the `chargeamps:` section that reaches it."""
        ...

    async def stop(self) -> None:
        """Stop it."""
        ...

    def writes(self) -> int:
        """How many schedules the agent has written to it."""
        ...

    def holds(self, zone: ZoneInfo) -> str | None:
        """What the charger itself holds and does, in a line; None when only the agent's status can say."""
        ...


class CloudCharger:
    """The Charge Amps cloud simulator with the demo account's HALO."""

    title = "charger HALO connector 1 (simulated, through the Charge Amps cloud)"

    def __init__(self, clock: Clock) -> None:
        self.simulator = Simulator(clock)
        populate_demo(self.simulator)

    async def start(self) -> dict[str, Any]:
        """Serve the cloud on a free port."""
        url = await self.simulator.start(port=0)
        return {
            "email": DEMO_EMAIL,
            "password": DEMO_PASSWORD,
            "api_key": DEMO_API_KEY,
            "base_url": url,
            "charge_point_id": DEMO_CHARGE_POINT_ID,
            "poll_interval_s": 5,
        }

    async def stop(self) -> None:
        """Stop serving."""
        await self.simulator.stop()

    def writes(self) -> int:
        """Weekly schedules written to the cloud."""
        return len(self.simulator.requests("PUT /api/smartChargingSchedules"))

    def holds(self, zone: ZoneInfo) -> str | None:
        """The cloud's schedule shows in the agent's status."""
        return None


class OcppCharger:
    """An OCPP 1.6J charge point connecting to the agent's central system (`api: ocpp`) on a free local port."""

    title = "charger HALO connector 1 (simulated, OCPP: the agent is its central system)"

    def __init__(self, clock: Clock) -> None:
        self.port = free_port()
        # made up per run: the demo's central system listens on loopback only, and nothing else needs it
        password = secrets.token_urlsafe(16)
        self.section = {
            "api": "ocpp",
            "charge_point_id": OCPP_CHARGE_POINT_ID,
            # status every 2 s, as the cloud demo polls every 5 s: the screen follows the charger closely
            "ocpp": {"listen": {"host": "127.0.0.1", "port": self.port}, "password": password, "status_interval_s": 2},
        }
        self.simulator = ChargerSimulator(
            f"ws://127.0.0.1:{self.port}",
            OCPP_CHARGE_POINT_ID,
            password,
            clock=clock,
            connectors=(CONNECTOR_ID,),
            meter_interval_s=10,
            reconnect_delay_s=0.5,
        )

    async def start(self) -> dict[str, Any]:
        """Plug the car in and start connecting (again and again until the agent listens)."""
        await self.simulator.plug_in(CONNECTOR_ID, Car(max_current_a=16.0))
        await self.simulator.start()
        return self.section

    async def stop(self) -> None:
        """Disconnect."""
        await self.simulator.stop()

    def writes(self) -> int:
        """Charging profiles the agent has written (the base profile at connect among them)."""
        return len(self.simulator.calls_of("SetChargingProfile"))

    def holds(self, zone: ZoneInfo) -> str:
        """The limit now and its next changes, as the charger evaluates its profiles, and what the car draws."""
        charger = self.simulator
        if not charger.connected.is_set():
            return "not connected to the agent yet"
        now = charger.clock.now().replace(microsecond=0)  # profile edges fall on whole seconds
        active = charger.active_limit(CONNECTOR_ID)
        source = "no profile" if active is None else f"{active.profile.purpose} {active.profile.profile_id}"
        steps = charger.composite(CONNECTOR_ID, now, LOOK_AHEAD_S)[:SHOWN_STEPS]
        limits = ", ".join(
            f"{limit:g} A "
            + ("now" if offset == 0 else f"from {(now + timedelta(seconds=offset)).astimezone(zone):%H:%M}")
            for offset, limit in steps
        )
        draw = f"car draws {charger.current_a(CONNECTOR_ID):g} A, {charger.power_kw(CONNECTOR_ID):.2f} kW"
        return f"{limits} ({source}) | {draw}"
