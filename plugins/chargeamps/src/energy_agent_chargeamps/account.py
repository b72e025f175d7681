"""One Charge Amps cloud account: its HTTP session, its API client, and readings shared by its connectors.

Every cloud call of the plugin goes through here, and every client error leaves here translated into the
core's DeviceError hierarchy (the one place that translates).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import aiohttp

from energy_agent.api import Backoff, Clock, DeviceAuthError, Metrics
from energy_agent_chargeamps.client import (
    ChargeAmpsAuthError,
    ChargeAmpsError,
    OfficialClient,
    SmartChargingSchedule,
    UserAppClient,
    to_device_error,
)
from energy_agent_chargeamps.config import ChargeAmpsConfig

log = logging.getLogger(__name__)
T = TypeVar("T")
AUTH_PAUSE = Backoff(first_s=300.0, max_s=3600.0)
"""How long cloud calls pause after the cloud refused the login: 5 min, doubling to 1 h while it keeps refusing."""

METRICS_DEVICE_TYPE = "charge-amps"
"""The device type cloud calls are counted under (`connector.DEVICE_TYPE`; that module imports this one)."""


MODE_NAMES = ("Off", "On", "Schedule")
"""Connector modes; the cloud sometimes sends their index (the OpenAPI OnOffMode order) instead."""


def mode_name(raw: str | int | None) -> str | None:
    """A connector mode as its name, whether the cloud sent the name or its number; None when unknown."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return MODE_NAMES[raw] if 0 <= raw < len(MODE_NAMES) else None
    if isinstance(raw, str):
        return next((name for name in MODE_NAMES if name.lower() == raw.strip().lower()), None)
    return None


@dataclass(frozen=True)
class ConnectorReading:
    """What the cloud says about one connector right now."""

    online: bool
    status: str | None
    """The cloud's status name (OCPP-like: Available, Preparing, Charging, SuspendedEV, Faulted, …)."""
    is_charging: bool | None
    power_kw: float
    total_energy_kwh: float | None
    mode: str | None = None
    """The connector's mode, "On", "Off" or "Schedule", when the API tells it (the user-app API does)."""


@dataclass(frozen=True)
class ChargePointInfo:
    """A charge point the account owns."""

    charge_point_id: str
    name: str
    connector_ids: tuple[int, ...]


class ChargeAmpsAccount:
    """See the module docstring. Readings are fetched once per charge point per half poll interval."""

    def __init__(
        self,
        config: ChargeAmpsConfig,
        clock: Clock,
        *,
        session: aiohttp.ClientSession | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.metrics = metrics or Metrics()
        """Where every cloud call is counted and timed (the agent's, from `DeviceContext.metrics`)."""
        self._auth_blocked_until: datetime | None = None
        self._auth_refusals = 0
        self._session = session
        self._owns_session = session is None
        self._client: UserAppClient | OfficialClient | None = None
        self._readings: dict[str, tuple[datetime, dict[int, ConnectorReading]]] = {}
        self._read_lock = asyncio.Lock()
        self._users = 0

    def _open(self) -> UserAppClient | OfficialClient:
        if self._client is not None:
            return self._client
        if self._session is None:
            self._session = aiohttp.ClientSession()
        config = self.config
        assert config.email is not None and config.password is not None  # the config model requires them for the cloud
        if config.api == "userapp":
            self._client = UserAppClient(
                self._session,
                email=config.email,
                password=config.password,
                clock=self.clock,
                base_url=config.url,
                timeout_s=config.timeout_s,
                sleep=self.clock.sleep,
            )
        else:
            assert config.api_key is not None  # the config model requires it for this api
            self._client = OfficialClient(
                self._session,
                api_key=config.api_key,
                email=config.email,
                password=config.password,
                clock=self.clock,
                base_url=config.url,
                timeout_s=config.timeout_s,
                sleep=self.clock.sleep,
            )
        return self._client

    @property
    def login_count(self) -> int:
        """Logins made so far (each one costs a token on the account)."""
        return self._client.login_count if self._client is not None else 0

    def acquire(self) -> None:
        """A connector starts using the account."""
        self._users += 1

    async def release(self) -> None:
        """A connector stops using the account; the last one closes the session."""
        self._users -= 1
        if self._users <= 0:
            await self.close()

    async def close(self) -> None:
        """Close the HTTP session (when the account opened it)."""
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None
        self._client = None

    async def _call(self, operation: str, awaitable: Awaitable[T]) -> T:
        """Await one cloud call (retries and logins included): time it, count it, translate its error.

        After the cloud refused a login, calls are refused here for a growing while (5 min up to 1 h):
        each login attempt costs a token on the account and may log the owner's phone app out, so a
        wrong or changed password must not become a login every poll.
        """
        now = self.clock.now()
        if self._auth_blocked_until is not None and now < self._auth_blocked_until:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            raise DeviceAuthError(
                f"Charge Amps refused the account's credentials; not trying again before "
                f"{self._auth_blocked_until:%H:%M:%S} UTC (fix the password, or wait)"
            )
        with self.metrics.measure(METRICS_DEVICE_TYPE, operation):
            try:
                result = await awaitable
            except ChargeAmpsError as exc:
                error = to_device_error(exc)
                if isinstance(exc, ChargeAmpsAuthError) and exc.login_refused:
                    self._auth_refusals += 1
                    pause_s = AUTH_PAUSE.after(self._auth_refusals)
                    self._auth_blocked_until = self.clock.now() + timedelta(seconds=pause_s)
                    log.error("%s; pausing cloud calls for %.0f s", error, pause_s)
                raise error from exc
        self._auth_refusals = 0
        self._auth_blocked_until = None
        return result

    async def discover(self) -> list[ChargePointInfo]:
        """The charge points the account owns, with their connector ids."""
        client = self._open()
        if isinstance(client, UserAppClient):
            points: list[Any] = await self._call("discover", client.owned_charge_points())
        else:
            points = await self._call("discover", client.owned_charge_points())
        return [
            ChargePointInfo(
                charge_point_id=point.id,
                name=point.name or point.id,
                connector_ids=tuple(c.connector_id for c in point.connectors),
            )
            for point in points
        ]

    async def reading(self, charge_point_id: str, connector_id: int, *, fresh: bool = False) -> ConnectorReading | None:
        """The connector's latest reading (`fresh`: read now, not from the cache of the last half poll interval);
        None when the cloud does not know the connector."""
        async with self._read_lock:
            cached = self._readings.get(charge_point_id)
            now = self.clock.now()
            if cached is None or fresh or (now - cached[0]).total_seconds() >= self.config.poll_interval_s / 2:
                self._readings.update(await self._fetch(charge_point_id, now))
                cached = self._readings.get(charge_point_id)
        return cached[1].get(connector_id) if cached else None

    async def _fetch(
        self, charge_point_id: str, now: datetime
    ) -> dict[str, tuple[datetime, dict[int, ConnectorReading]]]:
        client = self._open()
        if isinstance(client, UserAppClient):
            # One call answers for every charge point of the account.
            fetched: dict[str, tuple[datetime, dict[int, ConnectorReading]]] = {}
            for point in await self._call("read_status", client.owned_charge_points()):
                online = str(point.charge_point_status or "Online") != "Offline"
                fetched[point.id] = (
                    now,
                    {
                        c.connector_id: ConnectorReading(
                            online=online,
                            status=None if c.ocpp_status is None else str(c.ocpp_status),
                            is_charging=c.is_charging,
                            power_kw=sum(
                                (v or 0.0) * (i or 0.0)
                                for v, i in (
                                    (c.voltage1_v, c.current1_a),
                                    (c.voltage2_v, c.current2_a),
                                    (c.voltage3_v, c.current3_a),
                                )
                            )
                            / 1000,
                            total_energy_kwh=c.total_consumption_kwh,
                            mode=mode_name(c.mode),
                        )
                        for c in point.connectors
                    },
                )
            return fetched
        status = await self._call("read_status", client.status(charge_point_id))
        online = str(status.status or "Online") != "Offline"
        return {
            charge_point_id: (
                now,
                {
                    c.connector_id: ConnectorReading(
                        online=online,
                        status=None if c.status is None else str(c.status),
                        is_charging=None,
                        power_kw=c.charging_power_kw or 0.0,
                        total_energy_kwh=c.total_consumption_kwh,
                    )
                    for c in status.connector_statuses
                },
            )
        }

    async def stored_schedule(self, charge_point_id: str, connector_id: int) -> SmartChargingSchedule | None:
        """The weekly schedule the cloud holds for a connector, None when it holds none (user-app API)."""
        client = self._open()
        assert isinstance(client, UserAppClient)
        return await self._call("read_schedule", client.get_schedule(charge_point_id, connector_id))

    async def put_schedule(self, body: dict[str, Any]) -> None:
        """Write a connector's weekly schedule (user-app API)."""
        client = self._open()
        assert isinstance(client, UserAppClient)
        await self._call("put_schedule", client.put_schedule(body))
        self._readings.pop(str(body["chargePointId"]), None)  # a PUT switches the mode: read it afresh next time

    async def delete_schedule(self, charge_point_id: str, connector_id: int) -> None:
        """Delete a connector's weekly schedule (user-app API)."""
        client = self._open()
        assert isinstance(client, UserAppClient)
        await self._call("delete_schedule", client.delete_schedule(charge_point_id, connector_id))
        self._readings.pop(charge_point_id, None)

    async def set_connector(self, charge_point_id: str, connector_id: int, *, on: bool, max_current_a: float) -> None:
        """Switch a connector On (at `max_current_a`) or Off (official API); its other settings (cable and RFID
        locks) are read first and written back unchanged."""
        client = self._open()
        assert isinstance(client, OfficialClient)
        update = client.update_settings(
            charge_point_id, connector_id, mode="On" if on else "Off", max_current_a=max_current_a
        )
        await self._call("set_connector", update)
        self._readings.pop(charge_point_id, None)
