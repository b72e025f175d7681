"""One configured charge point across its connections: the live session, what it last reported, who listens.

A `ChargePointLink` outlives the websocket connections of its charge point. Each connection brings a new
session; the link keeps the connector readings (state, power, energy, transaction) and tells the connector
devices when a session is ready for writes and when a transaction starts.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from energy_agent.api import DeviceError, DeviceUnavailableError
from energy_agent_ocpp.config import ChargePointConfig

if TYPE_CHECKING:
    from energy_agent_ocpp.session import ChargePointSession

log = logging.getLogger(__name__)


class ConnectorListener(Protocol):
    """A connector device, told about its charge point's connection and transactions."""

    async def charger_ready(self) -> None:
        """A (re)connected charger has been set up: send it what it should hold."""
        ...

    async def transaction_started(self, transaction_id: int) -> None:
        """A transaction started on the connector."""
        ...


@dataclass
class ConnectorReadings:
    """What a charger last said about one connector."""

    status: str | None = None
    """OCPP ChargePointStatus: Available, Preparing, Charging, SuspendedEV, SuspendedEVSE, Finishing, Faulted, …"""
    error_code: str | None = None
    info: str | None = None
    power_kw: float = 0.0
    energy_register_kwh: float | None = None
    transaction_id: int | None = None
    meter_start_kwh: float | None = None
    session_energy_kwh: float | None = None
    """Energy of the running transaction, or of the last one until the connector is free again."""


class ChargePointLink:
    """See the module docstring."""

    def __init__(self, config: ChargePointConfig) -> None:
        self.config = config
        self.readings: dict[int, ConnectorReadings] = {c: ConnectorReadings() for c in config.connectors}
        self.charge_point_status: str | None = None
        """Status reported for connector 0 (the whole charge point)."""
        self.session: ChargePointSession | None = None
        self.listeners: dict[int, ConnectorListener] = {}
        self._ready = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def charge_point_id(self) -> str:
        """The configured identity."""
        return self.config.id

    @property
    def online(self) -> bool:
        """True while a connection is open."""
        return self.session is not None

    @property
    def ready(self) -> bool:
        """True once the live session has been set up (limits read) and writes may go to the charger."""
        return self.session is not None and self._ready.is_set()

    def attach(self, session: ChargePointSession) -> ChargePointSession | None:
        """Make `session` the live one; returns the one it replaces (to be closed by the caller)."""
        previous, self.session = self.session, session
        self._ready.clear()
        return previous

    def detach(self, session: ChargePointSession) -> None:
        """`session` has ended; the charge point is offline unless a newer session took over."""
        if self.session is session:
            self.session = None
            self._ready.clear()
            for readings in self.readings.values():
                readings.power_kw = 0.0

    async def wait_ready(self, timeout_s: float) -> ChargePointSession:
        """The live session once it is set up; DeviceUnavailableError when the charger is not connected."""
        session = self.session
        if session is None:
            raise DeviceUnavailableError(f"charge point {self.charge_point_id} is not connected to the agent")
        if not self._ready.is_set():
            try:
                async with asyncio.timeout(timeout_s):
                    await self._ready.wait()
            except TimeoutError:
                raise DeviceUnavailableError(
                    f"charge point {self.charge_point_id} is connecting but not ready after {timeout_s:g} s"
                ) from None
        if self.session is None:
            raise DeviceUnavailableError(f"charge point {self.charge_point_id} disconnected")
        return self.session

    async def mark_ready(self, session: ChargePointSession) -> None:
        """`session` is set up: tell every connector device, one after the other (they share one connection)."""
        if self.session is not session:
            return
        self._ready.set()
        for connector_id, listener in sorted(self.listeners.items()):
            try:
                await listener.charger_ready()
            except DeviceError as exc:
                log.warning("%s connector %d: not brought up to date: %s", self.charge_point_id, connector_id, exc)

    def transaction_started(self, connector_id: int, transaction_id: int) -> None:
        """Tell the connector's device, without holding up the answer to the charger."""
        listener = self.listeners.get(connector_id)
        if listener is None:
            return
        task = asyncio.create_task(self._notify_transaction(listener, connector_id, transaction_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify_transaction(self, listener: ConnectorListener, connector_id: int, transaction_id: int) -> None:
        try:
            await listener.transaction_started(transaction_id)
        except DeviceError as exc:
            log.warning(
                "%s connector %d: transaction %d not given the plan: %s",
                self.charge_point_id,
                connector_id,
                transaction_id,
                exc,
            )

    async def close(self) -> None:
        """Cancel notifications still running."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
