"""A fake device plugin for the benchmarks: `bench:` {count, status_interval_s} builds `count` devices that answer
at once (no I/O), registered through the same hook a real plugin uses. Topics: `{prefix}/bench/{n}/...`, n = 1..count.

Unlike tests/fake_plugin.py it keeps counters instead of a list of calls, so a long run does not grow memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from energy_agent.api.devices import Device, DeviceContext, DeviceType
from energy_agent.api.domain import ChargerState, DeviceCapabilities, DeviceStatus, Schedule
from energy_agent.api.hooks import hookimpl

DEVICE_TYPE = "bench"


class BenchConfig(BaseModel):
    """Config section `bench:`."""

    model_config = ConfigDict(extra="forbid")
    count: int = Field(1, ge=1, le=10_000)
    status_interval_s: float = Field(60.0, gt=0)


class BenchDevice:
    """A device that accepts every write at once and always reads the same status."""

    device_type = DEVICE_TYPE

    def __init__(self, topic_id: str, status_interval_s: float) -> None:
        self.topic_id = topic_id
        self.name = f"Bench {topic_id}"
        self.status_interval_s = status_interval_s
        self.capabilities = DeviceCapabilities(
            min_current_a=6, max_current_a=16, phases=3, control_strategy="schedule", horizon_s=7 * 86400,
            max_periods=96,
        )  # fmt: skip
        self.status = DeviceStatus(state=ChargerState.PLUGGED_IN, current_power_kw=0.0, session_energy_kwh=1.5)
        self.applies = 0
        self.clears = 0
        self.reads = 0

    async def start(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Nothing to close."""

    async def apply_schedule(self, schedule: Schedule) -> None:
        """Accept at once."""
        self.applies += 1

    async def clear_schedule(self) -> None:
        """Accept at once."""
        self.clears += 1

    async def read_status(self) -> DeviceStatus:
        """The same readings every time."""
        self.reads += 1
        return self.status


DEVICES: list[BenchDevice] = []
"""Every device built in this process (agent_proc reports their counters at exit)."""


def create(config: BenchConfig, context: DeviceContext) -> Sequence[Device]:
    """Build `config.count` devices with topic ids 1..count."""
    devices = [BenchDevice(str(n), config.status_interval_s) for n in range(1, config.count + 1)]
    DEVICES.extend(devices)
    return devices


@hookimpl
def register_device_types(register: Any) -> None:
    """The `bench` device type."""
    register(DeviceType(name=DEVICE_TYPE, config_section="bench", config_model=BenchConfig, create=create))
