"""A hand-written fake device plugin, registered through the same hooks a real plugin uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from energy_agent.api.devices import Device, DeviceContext, DeviceType
from energy_agent.api.domain import ChargerState, DeviceCapabilities, DeviceStatus, Schedule
from energy_agent.api.errors import DeviceUnavailableError
from energy_agent.api.hooks import hookimpl


class FakeConfig(BaseModel):
    """Config section `fake:`."""

    model_config = ConfigDict(extra="forbid")
    topic_ids: list[str] = Field(default_factory=lambda: ["1"])
    max_current_a: float = 16


class FakeDevice:
    """Records what the agent asked of it; can be told to fail."""

    device_type = "fake"
    status_interval_s = 60.0

    def __init__(self, topic_id: str, max_current_a: float) -> None:
        self.topic_id = topic_id
        self.name = f"Fake {topic_id}"
        self.capabilities = DeviceCapabilities(
            min_current_a=6,
            max_current_a=max_current_a,
            phases=3,
            control_strategy="schedule",
            horizon_s=7 * 86400,
            max_periods=96,
        )
        self.calls: list[tuple[str, Any]] = []
        self.fail_next: Exception | None = None
        self.status = DeviceStatus(state=ChargerState.PLUGGED_IN, current_power_kw=0.0, session_energy_kwh=1.5)

    def _maybe_fail(self) -> None:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error

    async def start(self) -> None:
        self.calls.append(("start", None))

    async def close(self) -> None:
        self.calls.append(("close", None))

    async def apply_schedule(self, schedule: Schedule) -> None:
        self._maybe_fail()
        self.calls.append(("apply", schedule))

    async def clear_schedule(self) -> None:
        self._maybe_fail()
        self.calls.append(("clear", None))

    async def read_status(self) -> DeviceStatus:
        if isinstance(self.fail_next, DeviceUnavailableError):
            self._maybe_fail()
        return self.status

    def writes(self) -> list[tuple[str, Any]]:
        """Only the apply/clear calls."""
        return [c for c in self.calls if c[0] in ("apply", "clear")]


CREATED: list[FakeDevice] = []


def create(config: FakeConfig, context: DeviceContext) -> Sequence[Device]:
    devices = [FakeDevice(topic_id, config.max_current_a) for topic_id in config.topic_ids]
    CREATED.extend(devices)
    return devices


@hookimpl
def register_device_types(register: Any) -> None:
    register(DeviceType(name="fake", config_section="fake", config_model=FakeConfig, create=create))
