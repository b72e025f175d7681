"""A read-only view of the running agent, for the parts that show it: the health endpoint, Home Assistant, the
web page, the demo and tests. They read through `AgentView` and change things only through commands; none of
them holds the agent itself.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from energy_agent import __version__
from energy_agent.api.devices import DeviceType
from energy_agent.api.domain import DeviceCapabilities, OperationMode, PriceCurve, Schedule
from energy_agent.api.metrics import Metrics
from energy_agent.api.planning import Plan
from energy_agent.config import CoreSettings, StandaloneSettings
from energy_agent.hems.contracts import CONTRACT_VERSION
from energy_agent.mqtt.bus import MqttBus
from energy_agent.prices.board import PriceBoard, PriceHealth
from energy_agent.prices.health import PriceReport, board_report
from energy_agent.runtime.command_log import AnsweredCommand, CommandLog
from energy_agent.runtime.devices import DeviceRuntime
from energy_agent.runtime.hems_commands import HemsCommands
from energy_agent.runtime.hems_link import HemsLink
from energy_agent.runtime.modes import ModeControl
from energy_agent.runtime.planner import StandalonePlanner
from energy_agent.runtime.state import AgentState, StateSaver, StateStore


@dataclass(frozen=True)
class DeviceView:
    """One running device as the outside sees it."""

    key: str
    device_type: str
    topic_id: str
    name: str
    capabilities: DeviceCapabilities
    _status: Callable[[], dict[str, Any]] = field(repr=False, compare=False)
    reachable: bool
    """The last status read succeeded."""
    status_error: str | None
    """Why the last status read failed; None when it did not, or before the first read."""
    status_read: bool
    """A status was read (or tried) at least once."""
    device_writes: int
    drifts_found: int = 0
    """Reads that found the device holding something else than the schedule in force (since start)."""
    drifts_repaired: int = 0
    in_sync: bool | None = None
    """Whether the last read-back matched; None for a device that cannot be read back or was not read yet."""
    schedule: Schedule | None = None
    """The schedule in force: what the agent wants the device to hold (None: nothing runs)."""

    @functools.cached_property
    def status(self) -> dict[str, Any]:
        """The contract status payload as it would be published now (built on first read)."""
        return self._status()


@dataclass(frozen=True, slots=True)
class MqttView:
    """The broker connection."""

    connected: bool
    where: str
    last_error: str | None
    reconnects: int


class AgentView(Protocol):
    """What may be read of a running agent (see the module docstring)."""

    @property
    def started(self) -> asyncio.Event:
        """Set once the devices are built and the mode is taken up."""
        ...

    @property
    def mode(self) -> OperationMode:
        """The operation mode in force."""
        ...

    @property
    def hems_connected(self) -> bool:
        """The HEMS counts as connected."""
        ...

    @property
    def standalone(self) -> StandaloneSettings:
        """The standalone settings in force."""
        ...

    @property
    def mqtt(self) -> MqttView:
        """The broker connection."""
        ...

    @property
    def state_error(self) -> str | None:
        """Why the state file could not be written last time; None when it could."""
        ...

    @property
    def metrics(self) -> Metrics:
        """Device API call measurements."""
        ...

    @property
    def prices(self) -> PriceHealth:
        """The price source's health."""
        ...

    @property
    def price_report(self) -> PriceReport:
        """The price source's health in words, as of now (state, warnings)."""
        ...

    @property
    def standalone_in_force(self) -> bool:
        """Standalone planning decides (standalone mode, or the HEMS fallback)."""
        ...

    @property
    def commands_answered(self) -> Mapping[str, int]:
        """HEMS schedule commands answered so far: `accepted` and `refused`."""
        ...

    @property
    def price_curve(self) -> PriceCurve | None:
        """The prices planned on (the last good curve); None before the first."""
        ...

    def recent_commands(self) -> list[AnsweredCommand]:
        """The last commands answered (HEMS schedules, mode commands), the newest first."""
        ...

    def devices(self) -> list[DeviceView]:
        """The running devices, sorted by key."""
        ...

    def device_keys(self) -> frozenset[str]:
        """The keys of the running devices (cheap, for change checks)."""
        ...

    def pending_device_types(self) -> list[str]:
        """Device types that are configured but have no device running yet (their cloud was unreachable)."""
        ...

    def plan(self, key: str) -> Plan | None:
        """The standalone plan last made for a device, if any."""
        ...

    def status_document(self) -> dict[str, Any]:
        """The agent-wide fields plus every device's status, as `/status` serves them."""
        ...


class DiscoveryMemory:
    """The Home Assistant discovery nodes announced so far, kept in the state file."""

    def __init__(self, state: AgentState, saver: StateSaver) -> None:
        self._state = state
        self._saver = saver

    @property
    def nodes(self) -> list[str]:
        """The node ids announced so far."""
        return list(self._state.discovery_nodes)

    def remember(self, nodes: list[str]) -> None:
        """Replace the remembered node ids."""
        if nodes != self._state.discovery_nodes:
            self._state.discovery_nodes = nodes
            self._saver.changed()


class RuntimeView:
    """The `AgentView` of one agent's parts."""

    def __init__(
        self,
        *,
        settings: CoreSettings,
        device_types: Mapping[str, DeviceType],
        runtimes: Mapping[str, DeviceRuntime],
        modes: ModeControl,
        link: HemsLink,
        hems: HemsCommands,
        planner: StandalonePlanner,
        bus: MqttBus,
        store: StateStore,
        board: PriceBoard,
        metrics: Metrics,
        status_of: Callable[[DeviceRuntime], dict[str, Any]],
        started: asyncio.Event,
        command_log: CommandLog,
    ) -> None:
        self._settings = settings
        self._device_types = device_types
        self._runtimes = runtimes
        self._modes = modes
        self._link = link
        self._hems = hems
        self._planner = planner
        self._bus = bus
        self._store = store
        self._board = board
        self._metrics = metrics
        self._status_of = status_of
        self._started = started
        self._command_log = command_log

    @property
    def started(self) -> asyncio.Event:
        """Set once the devices are built and the mode is taken up."""
        return self._started

    @property
    def mode(self) -> OperationMode:
        """The operation mode in force."""
        return self._modes.mode

    @property
    def hems_connected(self) -> bool:
        """The HEMS counts as connected."""
        return self._link.hems_connected

    @property
    def standalone(self) -> StandaloneSettings:
        """The standalone settings in force."""
        return self._modes.standalone

    @property
    def mqtt(self) -> MqttView:
        """The broker connection."""
        bus = self._bus
        where = f"{bus.settings.host}:{bus.settings.port}"
        return MqttView(bus.connected, where, bus.last_error, bus.reconnects)

    @property
    def state_error(self) -> str | None:
        """Why the state file could not be written last time; None when it could."""
        return self._store.last_error

    @property
    def metrics(self) -> Metrics:
        """Device API call measurements."""
        return self._metrics

    @property
    def prices(self) -> PriceHealth:
        """The price source's health."""
        return self._board.health

    @property
    def price_report(self) -> PriceReport:
        """The price source's health in words, as of now."""
        return board_report(self._board, self._planner.clock.now(), self._settings.zone)

    @property
    def standalone_in_force(self) -> bool:
        """Standalone planning decides."""
        return self._modes.standalone_in_force

    @property
    def commands_answered(self) -> Mapping[str, int]:
        """HEMS schedule commands answered so far."""
        return {"accepted": self._hems.commands_accepted, "refused": self._hems.commands_refused}

    @property
    def price_curve(self) -> PriceCurve | None:
        """The prices planned on."""
        return self._board.curve

    def recent_commands(self) -> list[AnsweredCommand]:
        """The last commands answered, the newest first."""
        return self._command_log.newest_first()

    def devices(self) -> list[DeviceView]:
        """The running devices, sorted by key."""
        return [self._device_view(runtime) for _, runtime in sorted(self._runtimes.items())]

    def device_keys(self) -> frozenset[str]:
        """The keys of the running devices."""
        return frozenset(self._runtimes)

    def _device_view(self, runtime: DeviceRuntime) -> DeviceView:
        device = runtime.device
        return DeviceView(
            key=runtime.key,
            device_type=device.device_type,
            topic_id=device.topic_id,
            name=device.name,
            capabilities=device.capabilities,
            _status=lambda: self._status_of(runtime),
            reachable=runtime.status is not None and runtime.status_error is None,
            status_error=runtime.status_error,
            status_read=runtime.status is not None,
            device_writes=runtime.device_writes,
            drifts_found=runtime.drifts_found,
            drifts_repaired=runtime.drifts_repaired,
            in_sync=runtime.in_sync if runtime.held is not None else None,
            schedule=runtime.schedule,
        )

    def pending_device_types(self) -> list[str]:
        """Device types that are configured but have no device running yet."""
        running = {runtime.device.device_type for runtime in self._runtimes.values()}
        return [
            name
            for name, device_type in self._device_types.items()
            if name not in running and self._settings.section(device_type.config_section) is not None
        ]

    def plan(self, key: str) -> Plan | None:
        """The standalone plan last made for a device, if any."""
        return self._planner.last_plans.get(key)

    def status_document(self) -> dict[str, Any]:
        """The agent-wide fields plus every device's status, keyed `{device_type}/{topic_id}`."""
        mqtt = self.mqtt
        return {
            "version": __version__,
            "contract_version": CONTRACT_VERSION,
            "operation_mode": self.mode.value,
            "mqtt_connected": mqtt.connected,
            "mqtt_reconnects": mqtt.reconnects,
            "mqtt_last_error": mqtt.last_error,
            "hems_connected": self.hems_connected,
            "state_error": self.state_error,
            "devices": {view.key: view.status for view in self.devices()},
        }
