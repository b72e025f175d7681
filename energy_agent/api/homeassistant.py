"""Home Assistant for plugins: the one REST client (read a state, call a service) with its connection settings,
and how some of the Home Assistant app's options become a plugin's config section (`AppOptions`).

The app (home-assistant/energy-agent) takes its options in the Supervisor's `options.json`; the core maps its
own (the mode, the cap, the broker, …) and hands each plugin's options to the `AppOptions` it registered.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

import aiohttp
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from energy_agent.api.errors import EnergyAgentError


def option_value(options: Mapping[str, Any], key: str) -> Any:
    """An option's value; None when it is absent, null or an empty string (how the app leaves options unset)."""
    value = options.get(key)
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


@dataclass(frozen=True)
class AppOptions:
    """How some of the app's options become one config section of a plugin."""

    section: str
    """The config section built, e.g. `chargeamps`."""
    options: tuple[str, ...]
    """The option names read (the app's schema offers them; any other option is refused as unknown)."""
    build: Callable[[Mapping[str, Any], list[str]], dict[str, Any]]
    """Build the section from all the options; append one `option NAME: problem` line per fault to the list."""


SUPERVISOR_URL = "http://supervisor/core/api"
"""Home Assistant's REST API as seen from inside a Home Assistant app (add-on)."""
SUPERVISOR_TOKEN_ENV = "SUPERVISOR_TOKEN"
"""Where the Supervisor hands an app its token."""


class HomeAssistantConnection(BaseModel):
    """How to reach Home Assistant's REST API; a config model that a section needing it derives from.

    Inside a Home Assistant app the defaults just work: the Supervisor's URL and the token it hands over.
    """

    url: str = Field(SUPERVISOR_URL, description="Base URL of Home Assistant's REST API, ending in /api.")
    token: SecretStr | None = Field(
        None, description="Long-lived access token; default $SUPERVISOR_TOKEN with the supervisor URL."
    )
    timeout_s: float = Field(10, gt=0, le=120, description="Timeout of one HTTP call to Home Assistant.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="before")
    @classmethod
    def _supervisor_token(cls, data: Any) -> Any:
        # Inside a Home Assistant app the Supervisor hands the token over in the environment.
        if isinstance(data, dict) and data.get("token") is None and data.get("url", SUPERVISOR_URL) == SUPERVISOR_URL:
            env_token = os.environ.get(SUPERVISOR_TOKEN_ENV)
            if env_token:
                return {**data, "token": env_token}
        return data

    @model_validator(mode="after")
    def _token(self) -> Self:
        if self.token is None or not self.token.get_secret_value():
            where = f"${SUPERVISOR_TOKEN_ENV} is not set" if self.url == SUPERVISOR_URL else "no token given"
            raise ValueError(f"token: required to call the Home Assistant API ({where})")
        return self


def entity_id(value: str) -> str:
    """`value` when it looks like `domain.object_id`; ValueError otherwise (for field validators)."""
    domain, dot, object_id = value.partition(".")
    if not (dot and domain and object_id) or "/" in value or "." in object_id:
        raise ValueError("must look like domain.object_id, e.g. sensor.energy_prices_electricity_import_price")
    return value


class HomeAssistantError(EnergyAgentError):
    """A call to Home Assistant failed; the message names the URL and the status, never the token."""


class HomeAssistantUnavailable(HomeAssistantError):
    """Home Assistant could not be reached, did not answer in time, answered 5xx or not JSON."""


class HomeAssistantAuthError(HomeAssistantError):
    """Home Assistant refused the token (401, 403)."""


class HomeAssistantNotFound(HomeAssistantError):
    """No such entity or service (404)."""


class HomeAssistantRefused(HomeAssistantError):
    """Home Assistant refused the request (400, 405, 422)."""


class HomeAssistantClient:
    """Home Assistant's REST API: read a state, call a service. One attempt per call (callers poll)."""

    def __init__(self, connection: HomeAssistantConnection, *, session: aiohttp.ClientSession | None = None) -> None:
        self._connection = connection
        self._session = session
        self._own_session = session is None

    async def close(self) -> None:
        """Close the HTTP session if this client opened it."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def get_state(self, entity_id: str) -> dict[str, Any]:
        """`GET {url}/states/{entity_id}`: the entity's state object (`state`, `attributes`, …)."""
        body = await self._call("GET", f"/states/{entity_id}", None, entity_id)
        if not isinstance(body, dict):
            raise HomeAssistantUnavailable(
                f"Home Assistant answered {self._where('GET', f'/states/{entity_id}')} with no object"
            )
        return body

    async def call_service(self, domain: str, service: str, data: Mapping[str, Any]) -> Any:
        """`POST {url}/services/{domain}/{service}` with `data`."""
        return await self._call("POST", f"/services/{domain}/{service}", dict(data), str(data.get("entity_id", "")))

    def _where(self, method: str, path: str) -> str:
        url = f"{self._connection.url}{path}"
        return url if method == "GET" else f"{method} {url}"

    async def _call(self, method: str, path: str, payload: dict[str, Any] | None, entity: str) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = f"{self._connection.url}{path}"
        where = self._where(method, path)
        token = self._connection.token.get_secret_value() if self._connection.token else ""
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        timeout_s = self._connection.timeout_s
        try:
            async with (
                asyncio.timeout(timeout_s),
                self._session.request(method, url, json=payload, headers=headers) as response,
            ):
                _raise_for_status(response.status, where, entity)
                body = await response.read()
        except TimeoutError:
            raise HomeAssistantUnavailable(f"Home Assistant did not answer {where} within {timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            # the library's text names the URL and the OS error; the token only travels in a header
            raise HomeAssistantUnavailable(
                f"cannot reach Home Assistant at {where}: {exc or type(exc).__name__}"
            ) from exc
        try:
            return json.loads(body) if body.strip() else None
        except ValueError:
            raise HomeAssistantUnavailable(f"Home Assistant answered {where} with something not JSON") from None


def _raise_for_status(status: int, where: str, entity: str) -> None:
    if 200 <= status < 300:
        return
    if status in (401, 403):
        raise HomeAssistantAuthError(f"Home Assistant refused the token (HTTP {status}) at {where}")
    if status == 404:
        what = f"no such entity or service for {entity}" if " " in where else f"no entity {entity}"
        raise HomeAssistantNotFound(f"Home Assistant has {what} (HTTP 404 at {where})")
    if status in (400, 405, 422):
        raise HomeAssistantRefused(f"Home Assistant refused {where} (HTTP {status})")
    raise HomeAssistantUnavailable(f"Home Assistant answered HTTP {status} at {where}")
