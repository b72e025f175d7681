"""Client of the official external API v5 (`https://eapi.charge.space`): status, connector settings, start/stop.

Access tokens last 120 minutes and refresh tokens 168 hours; the client refreshes with
`auth/refreshtoken` and logs in again only when the refresh is refused.
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
from energy_agent_chargeamps.client.errors import ChargeAmpsAuthError
from energy_agent_chargeamps.client.http import RequestCore, RetryPolicy, SleepFn, parse_model
from energy_agent_chargeamps.client.wire import (
    ChargePointStatus,
    ConnectorSettings,
    OfficialChargePoint,
    OfficialLoginResponse,
    StartAuth,
    TokenRefreshResponse,
    ViewConnectorSettings,
)

OFFICIAL_BASE_URL = "https://eapi.charge.space"
"""The official API's production address."""

_API = "/api/v5"
_CHARGE_POINTS = TypeAdapter(list[OfficialChargePoint])
_STATUS = TypeAdapter(ChargePointStatus)
_SETTINGS = TypeAdapter(ViewConnectorSettings)
_LOGIN = TypeAdapter(OfficialLoginResponse)
_REFRESH = TypeAdapter(TokenRefreshResponse)
# The settings PUT takes only the writable fields; the view's extras (installationCurrent) stay out.
_WRITABLE_SETTINGS = frozenset(ConnectorSettings.model_fields)


def _connector_path(charge_point_id: str, connector_id: int) -> str:
    return f"{_API}/chargepoints/{quote(charge_point_id, safe='')}/connectors/{connector_id:d}"


class OfficialClient:
    """Reads charge points, status and connector settings, writes settings and starts or stops charging.

    The session is the caller's and stays open. The api key goes in the `apiKey` header of every call.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_key: SecretStr | str,
        email: str,
        password: SecretStr | str,
        clock: Clock,
        base_url: str = OFFICIAL_BASE_URL,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        refresh_margin_s: float = 300.0,
        sleep: SleepFn = asyncio.sleep,
    ) -> None:
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self._email = email
        self._password = password if isinstance(password, SecretStr) else SecretStr(password)
        self._tokens = TokenManager(clock, self._login, self._refresh, refresh_margin_s=refresh_margin_s)
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

    @property
    def refresh_count(self) -> int:
        """Successful token refreshes made by this client."""
        return self._tokens.refresh_count

    def _secrets(self) -> tuple[str, ...]:
        return (self._password.get_secret_value(), self._api_key.get_secret_value(), *self._tokens.secrets())

    def _headers(self, token: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json", "apiKey": self._api_key.get_secret_value()}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def _login(self) -> TokenSet:
        path = f"{_API}/auth/login"
        try:
            data = await self._core.request(
                "POST",
                path,
                headers=self._headers(),
                json_body={"email": self._email, "password": self._password.get_secret_value()},
            )
        except ChargeAmpsAuthError as exc:
            exc.login_refused = True
            raise
        reply = parse_model(_LOGIN, data, f"POST {path}")
        return TokenSet.from_tokens(reply.token, reply.refresh_token)

    async def _refresh(self, tokens: TokenSet) -> TokenSet:
        path = f"{_API}/auth/refreshtoken"
        data = await self._core.request(
            "POST",
            path,
            headers=self._headers(),
            json_body={"token": tokens.access_token, "refreshToken": tokens.refresh_token},
        )
        reply = parse_model(_REFRESH, data, f"POST {path}")
        # Should the reply omit a new refresh token, the old one is still the one to use next time.
        return TokenSet.from_tokens(reply.token, reply.refresh_token or tokens.refresh_token)

    async def _call(self, method: str, path: str, *, json_body: Any = None, expect_json: bool = True) -> Any:
        async def send(token: str) -> Any:
            return await self._core.request(
                method, path, headers=self._headers(token), json_body=json_body, expect_json=expect_json
            )

        return await with_reauth(self._tokens, send)

    async def owned_charge_points(self) -> list[OfficialChargePoint]:
        """The account's charge points, with settings, connectors and OCPP version."""
        path = f"{_API}/chargepoints/owned"
        return parse_model(_CHARGE_POINTS, await self._call("GET", path), f"GET {path}")

    async def status(self, charge_point_id: str) -> ChargePointStatus:
        """Live status of a charge point and its connectors (power, energy, per-phase measurements)."""
        path = f"{_API}/chargepoints/{quote(charge_point_id, safe='')}/status"
        return parse_model(_STATUS, await self._call("GET", path), f"GET {path}")

    async def get_settings(self, charge_point_id: str, connector_id: int) -> ViewConnectorSettings:
        """A connector's settings (mode, max current, locks) and the installation's current limit."""
        path = f"{_connector_path(charge_point_id, connector_id)}/settings"
        return parse_model(_SETTINGS, await self._call("GET", path), f"GET {path}")

    async def put_settings(
        self, charge_point_id: str, connector_id: int, settings: ConnectorSettings | Mapping[str, Any]
    ) -> None:
        """Write a connector's settings; a dict uses the vendor's names and is read into the model first.

        The body's charge point and connector ids are taken from the arguments. `max_current_a` None is sent
        as null (the installation's limit); other fields left None are left out.
        """
        model = settings if isinstance(settings, ConnectorSettings) else ConnectorSettings.model_validate(settings)
        dumped = model.model_dump(mode="json", by_alias=True, include=set(_WRITABLE_SETTINGS))
        body = {key: value for key, value in dumped.items() if value is not None or key == "maxCurrent"}
        body["chargePointId"] = charge_point_id
        body["connectorId"] = connector_id
        path = f"{_connector_path(charge_point_id, connector_id)}/settings"
        await self._call("PUT", path, json_body=body, expect_json=False)

    async def update_settings(
        self, charge_point_id: str, connector_id: int, *, mode: str, max_current_a: float | None
    ) -> ConnectorSettings:
        """Change only a connector's mode and max current: read its settings, write them back whole.

        The settings PUT replaces every setting (a lock left out of the body is written as false), so sending
        only mode and current would unlock an owner's cable or RFID lock. Returns what was written. A change
        the owner makes between the GET and the PUT is lost; the window is one round trip.
        """
        held = await self.get_settings(charge_point_id, connector_id)
        writable = held.model_dump(include=set(_WRITABLE_SETTINGS))
        settings = ConnectorSettings.model_validate({**writable, "mode": mode, "max_current_a": max_current_a})
        await self.put_settings(charge_point_id, connector_id, settings)
        return settings

    async def remote_start(self, charge_point_id: str, connector_id: int, auth: StartAuth | None = None) -> None:
        """Start charging on a connector; `auth` (an RFID tag) matters only when the connector has an RFID lock."""
        body = (auth or StartAuth()).model_dump(mode="json", by_alias=True, exclude_none=True)
        path = f"{_connector_path(charge_point_id, connector_id)}/remotestart"
        await self._call("PUT", path, json_body=body, expect_json=False)

    async def remote_stop(self, charge_point_id: str, connector_id: int) -> None:
        """Stop charging on a connector."""
        path = f"{_connector_path(charge_point_id, connector_id)}/remotestop"
        await self._call("PUT", path, expect_json=False)
