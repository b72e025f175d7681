"""The Charge Amps cloud simulator: both APIs on one aiohttp server, with state and faults a test controls."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from energy_agent.api import Clock
from energy_agent_chargeamps.simulator import official_routes, userapp_routes
from energy_agent_chargeamps.simulator.access import WORLD
from energy_agent_chargeamps.simulator.car import Car
from energy_agent_chargeamps.simulator.connector import Connector
from energy_agent_chargeamps.simulator.edge import edge_middleware
from energy_agent_chargeamps.simulator.faults import ANY_ROUTE, Fault, FaultMode, FaultRule, FaultTable, normalize_route
from energy_agent_chargeamps.simulator.request_log import LoggedRequest
from energy_agent_chargeamps.simulator.schedules import SchedulePeriod, StoredSchedule
from energy_agent_chargeamps.simulator.state import Account, ChargePoint, World
from energy_agent_chargeamps.simulator.tokens import TokenEviction

SHUTDOWN_TIMEOUT_S = 1.0
"""How long `stop` waits for requests still being answered."""


class Simulator:
    """A fake Charge Amps cloud speaking the user-app API (`/api/...`) and the official API (`/api/v5/...`).

    Time (token expiry, charging energy) follows the injected clock; only the SLOW and LATE_ANSWER faults sleep
    for real. The `app_*` methods change the cloud as the owner's Charge Amps phone app would, behind the back
    of whatever client the test runs.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        userapp_token_lifetime_s: float = 3600,
        official_token_lifetime_s: float = 7200,
        refresh_token_lifetime_s: float = 168 * 3600,
    ) -> None:
        self.clock = clock
        self.request_log: list[LoggedRequest] = []
        """Every request received, in arrival order, faulted ones included."""
        self._world = World(
            clock=clock,
            userapp_token_lifetime_s=userapp_token_lifetime_s,
            official_token_lifetime_s=official_token_lifetime_s,
            refresh_token_lifetime_s=refresh_token_lifetime_s,
        )
        self._faults = FaultTable()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self.app = web.Application(middlewares=[edge_middleware(clock, self._faults, self.request_log, self._stopping)])
        """The aiohttp application, for aiohttp's test client or a runner of your own."""
        self.app[WORLD] = self._world
        self.app.add_routes(userapp_routes.routes)
        self.app.add_routes(official_routes.routes)
        self._route_keys = {
            normalize_route(f"{route.method} {route.resource.canonical}")
            for route in self.app.router.routes()
            if route.resource is not None
        }

    # Setting up the cloud.

    def add_account(self, *, email: str, password: str, api_key: str) -> Account:
        """An account that can log in to both APIs (the official one also needs `api_key`)."""
        return self._world.add_account(email, password, api_key)

    def add_charge_point(
        self, *, email: str, product: str, charge_point_id: str, name: str | None = None
    ) -> ChargePoint:
        """A charger owned by `email`: product "HALO" (CAPI, car + Schuko), "AURA" (OCPP 1.6, two car
        connectors) or "LUNA" (OCPP 1.6, one connector, downLight null)."""
        return self._world.add_charge_point(email, product, charge_point_id, name)

    def plug_in_car(
        self,
        charge_point_id: str,
        connector_id: int = 1,
        *,
        max_current_a: float = 16.0,
        phases: int = 3,
        energy_needed_kwh: float | None = None,
    ) -> Car:
        """Plug in a car that charges whenever allowed, until it has taken `energy_needed_kwh` (None: never full)."""
        car = Car(max_current_a=max_current_a, phases=phases, energy_needed_kwh=energy_needed_kwh)
        self.connector(charge_point_id, connector_id).plug_in(car)
        return car

    def unplug_car(self, charge_point_id: str, connector_id: int = 1) -> None:
        """Unplug the car and close its session."""
        self.connector(charge_point_id, connector_id).unplug()

    def set_token_lifetimes(
        self,
        *,
        userapp_s: float | None = None,
        official_s: float | None = None,
        refresh_s: float | None = None,
    ) -> None:
        """Change how long tokens issued from now on live (e.g. `userapp_s=60` for a short access token);
        tokens already issued keep their `exp`. The constructor takes the same lifetimes."""
        for value in (userapp_s, official_s, refresh_s):
            if value is not None and value <= 0:
                raise ValueError("token lifetimes must be positive")
        if userapp_s is not None:
            self._world.userapp_token_lifetime_s = userapp_s
        if official_s is not None:
            self._world.official_token_lifetime_s = official_s
        if refresh_s is not None:
            self._world.refresh_token_lifetime_s = refresh_s

    # The owner's phone app, acting behind the client's back.

    def app_store_schedule(
        self,
        charge_point_id: str,
        connector_id: int,
        periods: Sequence[SchedulePeriod | tuple[int, int, float]],
        *,
        start_of_schedule: datetime | None = None,
        is_active: bool = True,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        default_current_a: float = 0.0,
        time_zone: str = "Europe/Amsterdam",
    ) -> StoredSchedule:
        """Replace a connector's schedule as the phone app does: a new scheduleId, the connector in Schedule mode.

        `periods` are (from_s, to_s, max_current_a) offsets in seconds after `start_of_schedule` (default: this
        week's Monday 00:00 in `time_zone`, in UTC). They are stored as given, unchecked, so a test can also plant
        a schedule the cloud should never hold and see how a reader copes.
        """
        connector = self.connector(charge_point_id, connector_id)
        if start_of_schedule is None:
            local = self.clock.now().astimezone(ZoneInfo(time_zone))
            monday = local.date() - timedelta(days=local.weekday())
            start_of_schedule = datetime.combine(monday, time(0), tzinfo=ZoneInfo(time_zone)).astimezone(UTC)
        schedule = StoredSchedule(
            schedule_id=self._world.next_schedule_id(),
            charge_point_id=charge_point_id,
            connector_id=connector_id,
            start_of_schedule=start_of_schedule,
            periods=tuple(p if isinstance(p, SchedulePeriod) else SchedulePeriod(*p) for p in periods),
            is_active=is_active,
            valid_from=valid_from,
            valid_to=valid_to,
            default_current_a=default_current_a,
            time_zone=time_zone,
        )
        connector.store_schedule(schedule)
        return schedule

    def app_delete_schedule(self, charge_point_id: str, connector_id: int) -> None:
        """Delete a connector's schedule as the phone app does (the connector keeps its mode)."""
        self.connector(charge_point_id, connector_id).delete_schedule()

    def app_change_settings(
        self,
        charge_point_id: str,
        connector_id: int,
        *,
        mode: str | None = None,
        max_current_a: float | None = None,
        rfid_lock: bool | None = None,
        cable_lock: bool | None = None,
    ) -> None:
        """Change the connector settings that are given, as the phone app does (e.g. the owner locks the cable)."""
        self.connector(charge_point_id, connector_id).apply_settings(
            mode=mode, max_current_a=max_current_a, rfid_lock=rfid_lock, cable_lock=cable_lock
        )

    # Faults.

    def inject(
        self,
        route: str,
        fault: Fault,
        *,
        mode: FaultMode = FaultMode.ONCE,
        n: int = 1,
        retry_after_s: float = 1.0,
        delay_s: float = 1.0,
        status: int | None = None,
    ) -> FaultRule:
        """Make `route` ("METHOD template", or "*" for all) misbehave; placeholder names need not match."""
        if normalize_route(route) not in self._route_keys and normalize_route(route) != ANY_ROUTE:
            known = ", ".join(sorted(self._route_keys))
            raise ValueError(f"no route {route!r}; known routes: {known}")
        rule = FaultRule(
            route=route, fault=fault, mode=mode, n=n, retry_after_s=retry_after_s, delay_s=delay_s, status=status
        )
        return self._faults.add(rule)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._faults.clear()

    @property
    def faults(self) -> list[FaultRule]:
        """The injected faults still in force, in injection order."""
        return list(self._faults.rules)

    # Inspection.

    def writes(self) -> list[LoggedRequest]:
        """The logged PUT, POST and DELETE requests other than auth calls."""
        return [entry for entry in self.request_log if entry.is_write]

    def requests(self, route: str) -> list[LoggedRequest]:
        """The logged requests on one route ("METHOD template"; placeholder names need not match)."""
        key = normalize_route(route)
        return [entry for entry in self.request_log if normalize_route(entry.route) == key]

    def logins(self, email: str) -> int:
        """How many successful logins (both APIs) `email` made."""
        account = self._world.account(email)
        return 0 if account is None else account.login_count

    def live_tokens(self, email: str) -> int:
        """How many tokens of `email` still count against the limit of 10."""
        return self._world.tokens.live_count(email)

    @property
    def evictions(self) -> list[TokenEviction]:
        """Tokens pushed out by an eleventh login, oldest first."""
        return list(self._world.tokens.evictions)

    @property
    def schedules(self) -> dict[tuple[str, int], StoredSchedule]:
        """The stored user-app schedules, keyed (charge_point_id, connector_id)."""
        return {
            (cp.id, number): connector.schedule
            for cp in self._world.charge_points.values()
            for number, connector in cp.connectors.items()
            if connector.schedule is not None
        }

    def charge_point(self, charge_point_id: str) -> ChargePoint:
        """A charge point by id; KeyError when unknown."""
        return self._world.charge_points[charge_point_id]

    def connector(self, charge_point_id: str, connector_id: int) -> Connector:
        """A connector: settings (mode, max_current_a), power_kw, total_consumption_kwh, session_energy_kwh."""
        return self._world.connector(charge_point_id, connector_id)

    # Serving.

    @property
    def base_url(self) -> str:
        """Where the running server answers; RuntimeError before `start`."""
        if self._base_url is None:
            raise RuntimeError("the simulator is not running")
        return self._base_url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on `host`:`port` (0 picks a free port) and return the base URL, e.g. "http://127.0.0.1:8123"."""
        if self._runner is not None:
            raise RuntimeError("the simulator is running already")
        self._stopping.clear()
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self._base_url = f"http://{host or bound_host}:{bound_port}"
        return self._base_url

    async def stop(self) -> None:
        """Stop serving; slow answers still pending are cut short."""
        self._stopping.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            self._base_url = None
            await runner.cleanup()
