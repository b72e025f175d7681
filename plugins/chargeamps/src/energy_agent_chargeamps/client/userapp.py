"""Client of the user-app API (`https://my.charge.space`): the only one that writes per-period currents.

The API is unofficial and, since 2026, answers only requests that look like they come from its web app,
so every call carries the browser's Origin, Referer and User-Agent headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
from pydantic import SecretStr, TypeAdapter

from energy_agent.api import Clock
from energy_agent_chargeamps.client.auth import TokenManager, TokenSet, with_reauth
from energy_agent_chargeamps.client.errors import ChargeAmpsAuthError, ChargeAmpsResponseError
from energy_agent_chargeamps.client.http import RequestCore, RetryPolicy, SleepFn, parse_model
from energy_agent_chargeamps.client.wire import SmartChargingSchedule, UserAppChargePoint, UserAppLoginResponse

USERAPP_BASE_URL = "https://my.charge.space"
"""The user-app API's production address."""

_ORIGIN = "https://my.charge.space"
_REFERER_LOGIN = "https://my.charge.space/userapp/login"
_REFERER_DASHBOARD = "https://my.charge.space/userapp/dashboard"
_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"

_CHARGE_POINTS = TypeAdapter(list[UserAppChargePoint])
_SCHEDULES = TypeAdapter(list[SmartChargingSchedule])
_SCHEDULE = TypeAdapter(SmartChargingSchedule)
_LOGIN = TypeAdapter(UserAppLoginResponse)


def _segment(value: str | int) -> str:
    return quote(str(value), safe="")


class UserAppClient:
    """Reads charge points and reads, writes and deletes weekly smart-charging schedules via the user-app API.

    The session is the caller's and stays open. Tokens come from `POST /api/auth/login` only (there is no
    refresh token) and are reused until shortly before their `exp` (see `TokenManager`).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        email: str,
        password: SecretStr | str,
        clock: Clock,
        base_url: str = USERAPP_BASE_URL,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        refresh_margin_s: float = 300.0,
        sleep: SleepFn = asyncio.sleep,
        host_name: str = "my.charge.space",
    ) -> None:
        self._email = email
        self._password = password if isinstance(password, SecretStr) else SecretStr(password)
        self._host_name = host_name
        self._tokens = TokenManager(clock, self._login, refresh_margin_s=refresh_margin_s)
        self._core = RequestCore(
            session,
            base_url,
            clock=clock,
            timeout_s=timeout_s,
            retry=retry if retry is not None else RetryPolicy(),
            sleep=sleep,
            secrets=self._secrets,
        )

    @property
    def login_count(self) -> int:
        """Successful logins made by this client (each one mints a token on the account)."""
        return self._tokens.login_count

    def _secrets(self) -> tuple[str, ...]:
        return (self._password.get_secret_value(), *self._tokens.secrets())

    @staticmethod
    def _headers(referer: str, token: str | None = None) -> dict[str, str]:
        headers = {
            "Accept": "application/json",
            "Origin": _ORIGIN,
            "Referer": referer,
            "User-Agent": _USER_AGENT,
        }
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def _login(self) -> TokenSet:
        path = "/api/auth/login"
        try:
            data = await self._core.request(
                "POST",
                path,
                headers=self._headers(_REFERER_LOGIN),
                json_body={
                    "email": self._email,
                    "password": self._password.get_secret_value(),
                    "hostName": self._host_name,
                },
            )
        except ChargeAmpsAuthError as exc:
            exc.login_refused = True
            raise
        reply = parse_model(_LOGIN, data, f"POST {path}")
        return TokenSet.from_tokens(reply.token)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        expect_json: bool = True,
    ) -> Any:
        async def send(token: str) -> Any:
            return await self._core.request(
                method,
                path,
                headers=self._headers(_REFERER_DASHBOARD, token),
                json_body=json_body,
                params=params,
                expect_json=expect_json,
            )

        return await with_reauth(self._tokens, send)

    async def owned_charge_points(self) -> list[UserAppChargePoint]:
        """The account's charge points with their connectors and live readings."""
        path = "/api/users/chargepoints/owned"
        data = await self._call("POST", path, json_body=[], params={"expand": "ocppConfig,topChargingLimitation"})
        return parse_model(_CHARGE_POINTS, data, f"POST {path}")

    async def get_schedules(self, charge_point_id: str) -> list[SmartChargingSchedule]:
        """The smart-charging schedules stored for a charge point, one per connector that has one."""
        path = f"/api/smartChargingSchedules/chargepoint/{_segment(charge_point_id)}"
        return parse_model(_SCHEDULES, await self._call("GET", path), f"GET {path}")

    async def get_schedule(self, charge_point_id: str, connector_id: int) -> SmartChargingSchedule | None:
        """The schedule the cloud holds for one connector, None when it holds none.

        `GET /api/smartChargingSchedules/chargepoint/{chargePointId}` lists one schedule per connector that has
        one; more than one for the same connector is not an answer this client can trust
        (ChargeAmpsResponseError).
        """
        path = f"/api/smartChargingSchedules/chargepoint/{_segment(charge_point_id)}"
        schedules = parse_model(_SCHEDULES, await self._call("GET", path), f"GET {path}")
        mine = [s for s in schedules if s.connector_id == connector_id]
        if len(mine) > 1:
            raise ChargeAmpsResponseError(
                f"GET {path}: {len(mine)} schedules for connector {connector_id}, expected at most one", status=200
            )
        return mine[0] if mine else None

    async def put_schedule(self, body: SmartChargingSchedule | Mapping[str, Any]) -> SmartChargingSchedule:
        """Replace a connector's whole schedule (the connector switches to `Schedule` mode); returns the stored one.

        `body` is a `SmartChargingSchedule` or the plain JSON dict of one in the vendor's camelCase names
        (what the schedule converter produces). A dict is read into the model first, so a wrong shape fails
        here with a pydantic ValidationError (a ValueError) naming the field, before anything is sent; what
        goes out is always the model's JSON, so both forms send the same body for the same schedule.
        """
        schedule = body if isinstance(body, SmartChargingSchedule) else SmartChargingSchedule.model_validate(body)
        path = "/api/smartChargingSchedules"
        return parse_model(_SCHEDULE, await self._call("PUT", path, json_body=schedule.to_wire()), f"PUT {path}")

    async def delete_schedule(self, charge_point_id: str, connector_id: int) -> None:
        """Delete a connector's schedule."""
        path = f"/api/smartChargingSchedules/{_segment(charge_point_id)}/{_segment(connector_id)}"
        await self._call("DELETE", path, expect_json=False)
