"""A simulated OCPP 1.6J charge point with a car, built on the ocpp library's client side, for tests and demos.

`ChargerSimulator` connects to a central system and follows the charging profiles it is given, evaluated as a
real charger does (`ProfileStore`), so that a test can ask what limit applies at any moment; `Quirks` make it
behave like awkward firmware. `energy-agent ocpp simulate` runs one from the command line.
"""

from energy_agent_ocpp.simulator.car import Car
from energy_agent_ocpp.simulator.charger import ChargerSimulator
from energy_agent_ocpp.simulator.profiles import ActiveLimit, InstalledProfile, ProfileStore
from energy_agent_ocpp.simulator.quirks import Quirks

__all__ = ["ActiveLimit", "Car", "ChargerSimulator", "InstalledProfile", "ProfileStore", "Quirks"]
