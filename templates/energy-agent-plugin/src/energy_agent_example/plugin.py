"""Hook implementations: the config section `example:` and the device type built from it.

The core calls each `register_*` hook once at start-up, before it reads the config; async work lives on
the devices, never in hooks. See energy_agent/hookspecs.py for every hook a plugin may implement.
"""

from __future__ import annotations

from collections.abc import Callable

from energy_agent.api import DeviceContext, DeviceType, hookimpl
from pydantic import BaseModel, ConfigDict, Field

from energy_agent_example.device import DEVICE_TYPE, ExampleDevice


class ExampleDeviceConfig(BaseModel):
    """One device of the section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(..., pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Topic id: hems/example/{id}/...")
    name: str | None = Field(None, description="Human-readable name; default: the id.")
    power_kw: float = Field(..., gt=0, le=100, description="Power drawn while running, kW.")


class ExampleConfig(BaseModel):
    """The `example:` config section, owned and validated by this plugin (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    devices: list[ExampleDeviceConfig] = Field(..., min_length=1, description="The devices to control.")


def create_devices(config: ExampleConfig, context: DeviceContext) -> list[ExampleDevice]:
    """One device per configured entry. May be `async def` (e.g. to discover devices in a cloud)."""
    return [ExampleDevice(device.id, device.name or device.id, device.power_kw, context) for device in config.devices]


@hookimpl
def register_device_types(register: Callable[[DeviceType], None]) -> None:
    """Example devices, configured under `example:`."""
    register(
        DeviceType(
            name=DEVICE_TYPE,
            config_section="example",
            config_model=ExampleConfig,
            create=create_devices,
            # Name a standalone policy here (yours, registered with register_standalone_policies, or another
            # plugin's) to have the agent plan this device on its own in standalone mode.
            default_policy=None,
        )
    )
