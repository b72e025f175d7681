"""A simulated Charge Amps cloud (user-app API and official API v5 on one port) for tests and the demo.

sim = Simulator(clock)
sim.add_account(email="owner@example.com", password="pw", api_key="key-123")
sim.add_charge_point(email="owner@example.com", product="HALO", charge_point_id="2101000123A")
sim.plug_in_car("2101000123A", connector_id=1, max_current_a=16.0, phases=3)
sim.inject("PUT /api/smartChargingSchedules", Fault.SERVER_ERROR, mode=FaultMode.ONCE)
base_url = await sim.start()
"""

from energy_agent_chargeamps.simulator.car import Car
from energy_agent_chargeamps.simulator.connector import ChargingSession, Connector
from energy_agent_chargeamps.simulator.demo import (
    DEMO_API_KEY,
    DEMO_CHARGE_POINT_ID,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    populate_demo,
    serve_forever,
)
from energy_agent_chargeamps.simulator.faults import Fault, FaultMode, FaultRule
from energy_agent_chargeamps.simulator.request_log import LoggedRequest
from energy_agent_chargeamps.simulator.schedules import SchedulePeriod, StoredSchedule
from energy_agent_chargeamps.simulator.server import Simulator
from energy_agent_chargeamps.simulator.state import Account, ChargePoint
from energy_agent_chargeamps.simulator.tokens import TokenEviction

__all__ = [
    "DEMO_API_KEY",
    "DEMO_CHARGE_POINT_ID",
    "DEMO_EMAIL",
    "DEMO_PASSWORD",
    "Account",
    "Car",
    "ChargePoint",
    "ChargingSession",
    "Connector",
    "Fault",
    "FaultMode",
    "FaultRule",
    "LoggedRequest",
    "SchedulePeriod",
    "Simulator",
    "StoredSchedule",
    "TokenEviction",
    "populate_demo",
    "serve_forever",
]
