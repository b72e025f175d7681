"""A ready-to-use simulator on the wall clock, for the demo and `energy-agent chargeamps simulate`."""

from __future__ import annotations

import asyncio

from energy_agent.api import SystemClock
from energy_agent_chargeamps.simulator.server import Simulator

DEMO_EMAIL = "demo@example.com"
"""Demo account email (a demo value, safe to show)."""

DEMO_PASSWORD = "demo-password"
"""Demo account password (a demo value, safe to show)."""

DEMO_API_KEY = "demo-api-key"
"""Demo account key for the official API (a demo value, safe to show)."""

DEMO_CHARGE_POINT_ID = "2101000042A"
"""The demo HALO's id."""


def populate_demo(sim: Simulator) -> None:
    """Add the demo account and a HALO with a car plugged into its car connector."""
    sim.add_account(email=DEMO_EMAIL, password=DEMO_PASSWORD, api_key=DEMO_API_KEY)
    sim.add_charge_point(email=DEMO_EMAIL, product="HALO", charge_point_id=DEMO_CHARGE_POINT_ID, name="Demo Halo")
    sim.plug_in_car(DEMO_CHARGE_POINT_ID, connector_id=1, max_current_a=16.0, phases=3)


async def serve_forever(host: str = "127.0.0.1", port: int = 8080, *, seed_demo: bool = True) -> None:
    """Run a simulator on the wall clock until cancelled, printing where it listens and the demo credentials."""
    sim = Simulator(SystemClock())
    if seed_demo:
        populate_demo(sim)
    base_url = await sim.start(host=host, port=port)
    try:
        print(f"Charge Amps simulator listening on {base_url}", flush=True)
        if seed_demo:
            print(
                f"  demo account: email={DEMO_EMAIL} password={DEMO_PASSWORD} api key={DEMO_API_KEY}\n"
                f"  charge point: {DEMO_CHARGE_POINT_ID} (HALO, car plugged into connector 1)",
                flush=True,
            )
        await asyncio.Event().wait()
    finally:
        await sim.stop()
