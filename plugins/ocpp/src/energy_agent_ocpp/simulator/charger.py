"""A simulated OCPP 1.6J charge point with cars: connects, boots, reports, and follows its charging profiles.

It connects to `{url}/{charge_point_id}` with HTTP Basic auth and the subprotocol `ocpp1.6`, boots, reports
each connector's status, starts a transaction when a car is plugged in, and sends meter values every
`meter_interval_s` (of its clock). It applies the limit its profiles set (see `profiles`), capped by its
rating, or its rating when no profile applies; the car draws what that limit lets it. Profiles survive
reconnects, as on a real charger. When the connection drops it reconnects after `reconnect_delay_s`.
Time comes from the injected clock; only network waits are real.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import ssl
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ocpp.v16 import call, enums
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from energy_agent.api import Clock
from energy_agent_ocpp.profiles import ocpp_time
from energy_agent_ocpp.simulator.car import Car
from energy_agent_ocpp.simulator.profiles import ActiveLimit, ProfileStore
from energy_agent_ocpp.simulator.quirks import Quirks
from energy_agent_ocpp.simulator.wire import ChargerWire

log = logging.getLogger("energy_agent_ocpp.simulator")


def _stop_if_cancelled() -> None:
    """Raise CancelledError when this task was asked to stop.

    On Python 3.11 `asyncio.wait_for` (which the ocpp library uses for every call) can swallow a cancellation that
    arrives just as the answer does; a loop that goes on then would never end.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


@dataclass
class SimulatedConnector:
    """One connector: the car on it, its transaction and its energy register."""

    connector_id: int
    car: Car | None = None
    transaction_id: int | None = None
    transaction_start: datetime | None = None
    energy_wh: float = 0.0
    reported_status: str | None = None
    last_tick: datetime | None = None
    wants_transaction: bool = field(default=False)


class ChargerSimulator:
    """See the module docstring. `start()` connects in the background; `stop()` disconnects."""

    def __init__(
        self,
        url: str,
        charge_point_id: str,
        password: str | None,
        *,
        clock: Clock,
        connectors: tuple[int, ...] = (1,),
        rated_current_a: float = 32.0,
        quirks: Quirks | None = None,
        meter_interval_s: int = 60,
        reconnect_delay_s: float = 1.0,
        subprotocol: str | None = "ocpp1.6",
        ssl_context: ssl.SSLContext | None = None,
        vendor: str = "energy-agent",
        model: str = "Simulated charger",
    ) -> None:
        self.url = url.rstrip("/")
        self.charge_point_id = charge_point_id
        self._password = password
        self.clock = clock
        self.connectors = {c: SimulatedConnector(c) for c in connectors}
        self.rated_current_a = rated_current_a
        self.quirks = quirks or Quirks()
        self.meter_interval_s = meter_interval_s
        self.reconnect_delay_s = reconnect_delay_s
        self.subprotocol = subprotocol
        self.ssl_context = ssl_context
        self.vendor, self.model = vendor, model
        self.profiles = ProfileStore()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        """Every call the central system made, (action, payload with snake_case keys), oldest first."""
        self.refusal: str | None = None
        """Why the last connection attempt was refused (e.g. `HTTP 401`), None after a success."""
        self.connections = 0
        self.connected = asyncio.Event()
        self._wire: ChargerWire | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._booted_once = False

    # -- what a test asks ------------------------------------------------------------------------------
    def active_limit(self, connector_id: int, when: datetime | None = None) -> ActiveLimit | None:
        """The profile limit on the connector at `when` (default now), with the profile; None: no profile applies."""
        connector = self.connectors[connector_id]
        return self.profiles.active(
            connector_id,
            when or self.clock.now(),
            transaction_id=connector.transaction_id,
            transaction_start=connector.transaction_start,
        )

    def limit_at(self, connector_id: int, when: datetime | None = None) -> float:
        """The limit the charger applies at `when` (default now): the profile's, capped by its rating."""
        active = self.active_limit(connector_id, when)
        return self.rated_current_a if active is None else min(active.limit, self.rated_current_a)

    def current_a(self, connector_id: int, when: datetime | None = None) -> float:
        """What the car on the connector draws per phase (0 without a car or a transaction)."""
        connector = self.connectors[connector_id]
        if connector.car is None or connector.transaction_id is None:
            return 0.0
        return connector.car.draw_a(self.limit_at(connector_id, when))

    def power_kw(self, connector_id: int) -> float:
        """What the connector delivers now."""
        return self.power_kw_at(self.connectors[connector_id], self.clock.now())

    def calls_of(self, action: str) -> list[dict[str, Any]]:
        """Payloads of every call of `action` received so far."""
        return [payload for name, payload in self.calls if name == action]

    def composite(self, connector_id: int, start: datetime, duration_s: int) -> list[tuple[int, float]]:
        """(offset s, limit A) from `start` for `duration_s`, where the applied limit changes."""
        end = start + timedelta(seconds=duration_s)
        connector = self.connectors[connector_id]
        moments = [start, *self.profiles.edges(connector_id, start, end, connector.transaction_start)]
        periods: list[tuple[int, float]] = []
        for moment in moments:
            limit = self.limit_at(connector_id, moment)
            if not periods or periods[-1][1] != limit:
                periods.append((int((moment - start).total_seconds()), limit))
        return periods

    def configuration(self) -> dict[str, tuple[str, bool]]:
        """The configuration keys this charger knows: value and read-only flag."""
        return {
            "ChargeProfileMaxStackLevel": (str(self.quirks.max_stack_level), True),
            "ChargingScheduleMaxPeriods": (str(self.quirks.max_periods), True),
            "ChargingScheduleAllowedChargingRateUnit": ("Current,Power", True),
            "SupportedFeatureProfiles": ("Core,SmartCharging,RemoteTrigger", True),
            "MeterValueSampleInterval": (str(self.meter_interval_s), False),
            "NumberOfConnectors": (str(len(self.connectors)), True),
        }

    # -- life cycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start connecting (and reconnecting) in the background."""
        self._task = asyncio.create_task(self._run(), name=f"simulated {self.charge_point_id}")

    async def stop(self) -> None:
        """Disconnect and stop; the profiles stay in `profiles`."""
        for task in [self._task, *self._tasks]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*[t for t in [self._task, *self._tasks] if t is not None], return_exceptions=True)
        self._task = None
        self.connected.clear()

    async def wait_connected(self, timeout_s: float = 10.0) -> None:
        """Wait (real time) until the charger is connected and has reported its connectors."""
        async with asyncio.timeout(timeout_s):
            await self.connected.wait()

    def drop(self) -> None:
        """Lose the connection abruptly (as on a network failure); it reconnects after `reconnect_delay_s`."""
        if self._wire is not None:
            self._wire.connection.transport.abort()

    def wake(self) -> None:
        """Re-evaluate limits and statuses now (a profile changed)."""
        self._wake.set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run `coro` in the background, cancelled at `stop()`."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def plug_in(self, connector_id: int = 1, car: Car | None = None) -> None:
        """A car is plugged in: Preparing, then a transaction starts (now if connected, else at connect)."""
        connector = self.connectors[connector_id]
        connector.car = car or Car()
        connector.wants_transaction = True
        wire = self._wire
        if wire is not None and self.connected.is_set():
            await self.send_status(wire, connector_id, status="Preparing")
            await self._start_transaction(wire, connector)
            await self.send_status(wire, connector_id)

    async def unplug(self, connector_id: int = 1) -> None:
        """The car leaves: the transaction stops, its TxProfiles go, the connector is Available again."""
        connector = self.connectors[connector_id]
        self._integrate(connector, self.clock.now())
        connector.car = None
        connector.wants_transaction = False
        wire = self._wire
        if connector.transaction_id is not None and wire is not None:
            await wire.send(
                call.StopTransaction(
                    meter_stop=int(connector.energy_wh),
                    timestamp=ocpp_time(self.clock.now()),
                    transaction_id=connector.transaction_id,
                    reason=enums.Reason.ev_disconnected,
                )
            )
        connector.transaction_id = None
        connector.transaction_start = None
        self.profiles.end_transaction(connector_id)
        if wire is not None:
            await self.send_status(wire, connector_id)

    # -- the connection ---------------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            _stop_if_cancelled()
            try:
                await self._connect_once()
            except InvalidStatus as exc:
                self.refusal = f"HTTP {exc.response.status_code}"
                log.warning("%s: the central system refused the connection: %s", self.charge_point_id, self.refusal)
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
                log.info("%s: connection lost or failed: %s", self.charge_point_id, type(exc).__name__)
            except Exception:  # a real charger keeps trying whatever went wrong; so does this one
                log.exception("%s: connection failed", self.charge_point_id)
            self.connected.clear()
            self._wire = None
            await asyncio.sleep(self.reconnect_delay_s)

    def _headers(self) -> dict[str, str]:
        if self._password is None:
            return {}
        token = base64.b64encode(f"{self.charge_point_id}:{self._password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    async def _connect_once(self) -> None:
        async with connect(
            f"{self.url}/{self.charge_point_id}",
            subprotocols=[self.subprotocol] if self.subprotocol else None,  # type: ignore[list-item]
            additional_headers=self._headers(),
            ssl=self.ssl_context,
            open_timeout=10,
        ) as connection:
            self.refusal = None
            self.connections += 1
            wire = ChargerWire(self, connection)
            reader = asyncio.create_task(wire.start())
            try:
                await self._greet(wire)
                self._wire = wire
                self.connected.set()
                log.info("%s: connected to %s", self.charge_point_id, self.url)
                ticker = asyncio.create_task(self._tick_loop(wire))
                try:
                    await asyncio.wait({reader, ticker}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    ticker.cancel()
                    await asyncio.gather(ticker, return_exceptions=True)
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)

    async def _greet(self, wire: ChargerWire) -> None:
        if self.quirks.boots_on_reconnect or not self._booted_once:
            boot = call.BootNotification(charge_point_model=self.model, charge_point_vendor=self.vendor)
            answer = await wire.send(boot)
            if answer.status != enums.RegistrationStatus.accepted:
                raise ConnectionAbortedError(f"boot answered {answer.status}")
            self._booted_once = True
        for connector in self.connectors.values():
            connector.reported_status = None
            if connector.wants_transaction and connector.transaction_id is None:
                await self._start_transaction(wire, connector)
            await self.send_status(wire, connector.connector_id)

    async def _start_transaction(self, wire: ChargerWire, connector: SimulatedConnector) -> None:
        answer = await wire.send(
            call.StartTransaction(
                connector_id=connector.connector_id,
                id_tag="SIMULATED-CAR",
                meter_start=int(connector.energy_wh),
                timestamp=ocpp_time(self.clock.now()),
            )
        )
        connector.transaction_id = answer.transaction_id
        connector.transaction_start = self.clock.now()
        connector.last_tick = self.clock.now()
        self.wake()

    def _status_of(self, connector: SimulatedConnector) -> str:
        if connector.car is None:
            return "Available"
        if connector.transaction_id is None:
            return "Preparing"
        return "Charging" if self.current_a(connector.connector_id) > 0 else "SuspendedEVSE"

    async def send_status(
        self, wire: ChargerWire, connector_id: int | None, *, status: str | None = None, force: bool = False
    ) -> None:
        """Report a connector's status (all connectors when None) when it changed, or always with `force`."""
        for connector in self.connectors.values():
            if connector_id is not None and connector.connector_id != connector_id:
                continue
            wanted = status or self._status_of(connector)
            if wanted == connector.reported_status and not force:
                continue
            connector.reported_status = wanted
            await wire.send(
                call.StatusNotification(
                    connector_id=connector.connector_id,
                    error_code=enums.ChargePointErrorCode.no_error,
                    status=enums.ChargePointStatus(wanted),
                    timestamp=ocpp_time(self.clock.now()),
                )
            )

    async def send_meter_values(self, wire: ChargerWire, connector_id: int | None) -> None:
        """Send power and the energy register of a connector (all when None)."""
        for connector in self.connectors.values():
            if connector_id is not None and connector.connector_id != connector_id:
                continue
            power_w = self.power_kw(connector.connector_id) * 1000
            sampled = [
                {"value": f"{connector.energy_wh:.0f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": f"{power_w:.0f}", "measurand": "Power.Active.Import", "unit": "W"},
            ]
            await wire.send(
                call.MeterValues(
                    connector_id=connector.connector_id,
                    transaction_id=connector.transaction_id,
                    meter_value=[{"timestamp": ocpp_time(self.clock.now()), "sampledValue": sampled}],
                )
            )

    def _integrate(self, connector: SimulatedConnector, now: datetime) -> None:
        """Add the energy delivered since the last tick, piece by piece between the profile edges in between."""
        last = connector.last_tick
        if last is not None and now > last:
            cid = connector.connector_id
            points = [last, *self.profiles.edges(cid, last, now, connector.transaction_start), now]
            for begin, end in itertools.pairwise(points):
                hours = (end - begin).total_seconds() / 3600
                connector.energy_wh += self.power_kw_at(connector, begin) * 1000 * hours
        connector.last_tick = now

    def power_kw_at(self, connector: SimulatedConnector, when: datetime) -> float:
        """What the connector delivered at `when`."""
        car = connector.car
        return 0.0 if car is None else car.power_kw(self.current_a(connector.connector_id, when))

    async def _sleep_until(self, target: datetime) -> None:
        """Sleep until `target` on the clock, measured when this task starts: the clock may have moved since the
        caller looked (a test's clock jumps while this charger talks to the central system)."""
        await self.clock.sleep(max(0.0, (target - self.clock.now()).total_seconds()))

    async def _tick_loop(self, wire: ChargerWire) -> None:
        """Each tick: count energy, report status changes, send meter values when due; wake at profile edges.

        Time may jump past several edges at once (a test's clock): energy is counted piece by piece, and the
        status reported is the one at the time of the tick."""
        next_meter = self.clock.now()
        while True:
            _stop_if_cancelled()
            self._wake.clear()
            now = self.clock.now()
            for connector in self.connectors.values():
                self._integrate(connector, now)
            await self.send_status(wire, None)
            if now >= next_meter:
                await self.send_meter_values(wire, None)
                next_meter = now + timedelta(seconds=self.meter_interval_s)
            target = next_meter
            for connector in self.connectors.values():
                edges = self.profiles.edges(connector.connector_id, now, next_meter, connector.transaction_start)
                target = min([target, *edges[:1]])
            _stop_if_cancelled()  # a cancellation swallowed by the calls above must not leave this loop asleep
            sleeper = asyncio.create_task(self._sleep_until(target))
            waker = asyncio.create_task(self._wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()
