"""Device capabilities as small Protocols, and the registrations a plugin hands to the core.

A plugin registers a `DeviceType` (a factory that builds devices from its config section), a
`StandalonePolicy` (how the agent plans on its own), or a `PriceSourceType`. Async work lives on the
objects these build, never in the hooks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from energy_agent.api.clock import Clock
from energy_agent.api.domain import DeviceCapabilities, DeviceStatus, HeldSchedule, Schedule
from energy_agent.api.metrics import Metrics


@runtime_checkable
class ScheduleTarget(Protocol):
    """Accepts a schedule; returns only once the device has accepted it (raises DeviceError otherwise)."""

    async def apply_schedule(self, schedule: Schedule) -> None:
        """Make `schedule` the one the device follows."""
        ...


@runtime_checkable
class ScheduleClearer(Protocol):
    """Removes the schedule and stops the device running."""

    async def clear_schedule(self) -> None:
        """Clear whatever schedule is in force on the device."""
        ...


@runtime_checkable
class StatusReader(Protocol):
    """Reads the device's live status."""

    async def read_status(self) -> DeviceStatus:
        """Current readings; raises DeviceError when they cannot be read."""
        ...


@runtime_checkable
class Device(ScheduleTarget, ScheduleClearer, StatusReader, Protocol):
    """A controllable device: identity, what it accepts, and its lifecycle."""

    device_type: str
    """Topic segment of the device family, e.g. `charge-amps`."""
    topic_id: str
    """Id of this device in MQTT topics, `[A-Za-z0-9_-]+`."""
    name: str
    """Human-readable name."""
    capabilities: DeviceCapabilities
    """Limits the device accepts."""
    status_interval_s: float
    """How often the core polls `read_status`."""

    async def start(self) -> None:
        """Open connections; called once before any other call."""
        ...

    async def close(self) -> None:
        """Release connections; called once at shutdown."""
        ...


class MqttAccess(Protocol):
    """The part of the agent's MQTT connection that plugins may use."""

    async def publish(self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False) -> None:
        """Publish now; raises ConnectionError when the broker is not connected."""
        ...

    def subscribe(self, topic_filter: str, handler: Callable[[str, bytes], Awaitable[None]]) -> None:
        """Call `handler(topic, payload)` for each message; kept across reconnects."""
        ...

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        """Wait until the broker connection is up (raises TimeoutError after `timeout_s`)."""
        ...


def controls_current(capabilities: DeviceCapabilities) -> bool:
    """False for a device that only switches on and off: it announces the current range 0..0 A.

    Such a device takes no `max_current`; its schedules carry none (`max_current_a` None).
    """
    return capabilities.max_current_a > 0


@runtime_checkable
class ScheduleReader(Protocol):
    """Optional on a Device: reads back what the device (or its cloud) holds now, so that the agent can report
    what the device will do, not what it meant to write, and notice changes made behind its back. (The core
    does not call it yet; implement it now and the read-back comes to your device type with it.)"""

    async def read_schedule(self) -> HeldSchedule:
        """The schedule the device holds now; raises DeviceError when it cannot be read."""
        ...


@runtime_checkable
class ScheduleRestorer(Protocol):
    """Optional on a Device: told at start which schedule the agent restored from its state.

    A device that keeps its schedule in the cloud needs nothing (no rewrite); one that follows the schedule
    in memory (switching at boundaries) resumes following it here.
    """

    async def restore_schedule(self, schedule: Schedule) -> None:
        """Resume following `schedule`, which the device accepted before the agent restarted."""
        ...


@runtime_checkable
class PolicyOptionsSource(Protocol):
    """Optional on a Device: settings of its own that its standalone policy reads (e.g. hours per day)."""

    policy_options: Mapping[str, Any]
    """JSON-ready settings; the core hands them to the policy as `PlanRequest.options`."""


@dataclass(frozen=True)
class DeviceContext:
    """What the core hands to a device factory."""

    clock: Clock
    timezone: ZoneInfo
    state_dir: Path
    mqtt: MqttAccess
    sections: Mapping[str, Any] = field(default_factory=dict)
    """Validated extra config sections (see `register_config_sections`) by name; a section absent from the
    config file is None."""
    metrics: Metrics = field(default_factory=Metrics)
    """Where the device records its API calls (`measure`), served at `/metrics`; one per agent."""


@dataclass(frozen=True)
class DeviceType:
    """A kind of device a plugin provides, built from the config section `config_section`."""

    name: str
    """Topic segment of the family, e.g. `charge-amps`."""
    config_section: str
    """Top-level config key the plugin owns, e.g. `chargeamps`."""
    config_model: type[BaseModel]
    """Pydantic model validating that section (extra keys forbidden)."""
    create: Callable[[Any, DeviceContext], Sequence[Device] | Awaitable[Sequence[Device]]]
    """Build the devices from the validated section; may be async (e.g. to discover them in a cloud).

    Raise ConfigError for a configuration that cannot work, DeviceUnavailableError when discovery failed
    for now (the agent retries later and keeps running the other devices)."""
    default_policy: str | None = None
    """Name of the standalone policy used for these devices."""
