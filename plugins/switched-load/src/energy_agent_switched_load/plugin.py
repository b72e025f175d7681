"""Hook implementations of the switched-load plugin: the device type and its standalone policy."""

from __future__ import annotations

from collections.abc import Callable

from energy_agent.api import DeviceContext, DeviceType, StandalonePolicy, hookimpl
from energy_agent_switched_load.config import SwitchedLoadConfig
from energy_agent_switched_load.device import DEVICE_TYPE, SwitchedLoad
from energy_agent_switched_load.drivers import make_switch
from energy_agent_switched_load.policy import POLICY


def create_loads(config: SwitchedLoadConfig, context: DeviceContext) -> list[SwitchedLoad]:
    """One device per configured load, each with the driver its config names."""
    return [SwitchedLoad(load, make_switch(load, context.mqtt), context) for load in config.loads]


@hookimpl
def register_device_types(register: Callable[[DeviceType], None]) -> None:
    """Switched loads, configured under `switched_load:`."""
    register(
        DeviceType(
            name=DEVICE_TYPE,
            config_section="switched_load",
            config_model=SwitchedLoadConfig,
            create=create_loads,
            default_policy=POLICY.name,
        )
    )


@hookimpl
def register_standalone_policies(register: Callable[[StandalonePolicy], None]) -> None:
    """Run in the N cheapest hours of each day under the cap."""
    register(POLICY)
