"""Drivers that switch a load on and off: a Home Assistant switch entity (REST API) or an MQTT command topic.

Each driver translates its failures into the core's DeviceError hierarchy here, at the boundary; no
message carries the Home Assistant token.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import aiohttp

from energy_agent.api.devices import MqttAccess
from energy_agent.api.errors import DeviceAuthError, DeviceRejectedError, DeviceUnavailableError
from energy_agent_switched_load.config import HomeAssistantLoadConfig, MqttLoadConfig

log = logging.getLogger(__name__)


class Switch(Protocol):
    """Turns one load on or off and tells what state it is in."""

    async def start(self) -> None:
        """Open connections or subscriptions."""
        ...

    async def close(self) -> None:
        """Release what `start` opened."""
        ...

    async def turn(self, on: bool) -> None:
        """Switch on (True) or off (False); raises DeviceError when that could not be done."""
        ...

    async def read_on(self) -> bool | None:
        """True when on, False when off, None when the driver cannot know; raises DeviceError on failure."""
        ...


class HomeAssistantSwitch:
    """A Home Assistant entity switched with `turn_on`/`turn_off` services of its domain over the REST API."""

    def __init__(self, config: HomeAssistantLoadConfig, *, session: aiohttp.ClientSession | None = None) -> None:
        self._config = config
        self._session = session
        self._own_session = session is None

    @property
    def _domain(self) -> str:
        return self._config.entity_id.partition(".")[0]

    async def start(self) -> None:
        """Open an HTTP session unless one was injected."""
        if self._session is None:
            self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        """Close the session if this driver opened it."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def turn(self, on: bool) -> None:
        """`POST {url}/services/{domain}/turn_on|turn_off` with the entity id."""
        service = "turn_on" if on else "turn_off"
        await self._call("POST", f"/services/{self._domain}/{service}", {"entity_id": self._config.entity_id})

    async def read_on(self) -> bool:
        """`GET {url}/states/{entity_id}`: `on` or `off`; anything else (unavailable, unknown) is an error."""
        body = await self._call("GET", f"/states/{self._config.entity_id}", None)
        state = body.get("state") if isinstance(body, dict) else None
        if state == "on":
            return True
        if state == "off":
            return False
        raise DeviceUnavailableError(f"Home Assistant reports {self._config.entity_id} as {str(state)[:40]!r}")

    async def _call(self, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        if self._session is None:
            raise DeviceUnavailableError("Home Assistant switch used before start()")
        url = f"{self._config.url}{path}"
        token = self._config.token.get_secret_value() if self._config.token else ""
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            async with asyncio.timeout(self._config.timeout_s):
                async with self._session.request(method, url, json=payload, headers=headers) as response:
                    _raise_for_status(response.status, method, url, self._config.entity_id)
                    return await response.json(content_type=None)
        except TimeoutError:
            raise DeviceUnavailableError(
                f"Home Assistant did not answer {method} {url} within {self._config.timeout_s:g} s"
            ) from None
        except ValueError as exc:  # a body that is not JSON
            raise DeviceUnavailableError(f"Home Assistant answered {method} {url} with something not JSON") from exc
        except aiohttp.ClientError as exc:
            # the library's text names the URL and the OS error; the token only travels in a header
            raise DeviceUnavailableError(f"cannot reach Home Assistant at {url}: {exc or type(exc).__name__}") from exc


def _raise_for_status(status: int, method: str, url: str, entity_id: str) -> None:
    if 200 <= status < 300:
        return
    where = f"{method} {url}"
    if status in (401, 403):
        raise DeviceAuthError(f"Home Assistant refused the token (HTTP {status}) at {where}")
    if status == 404:
        raise DeviceRejectedError(f"Home Assistant has no such entity or service for {entity_id} (HTTP 404 at {where})")
    if status in (400, 405, 422):
        raise DeviceRejectedError(f"Home Assistant refused {where} (HTTP {status})")
    raise DeviceUnavailableError(f"Home Assistant answered HTTP {status} at {where}")


class MqttSwitch:
    """A load switched by publishing to a command topic; its state read from a state topic, when there is one."""

    def __init__(self, config: MqttLoadConfig, mqtt: MqttAccess) -> None:
        self._config = config
        self._mqtt = mqtt
        self._reported: bool | None = None
        self._commanded: bool | None = None

    async def start(self) -> None:
        """Subscribe to the state topic, if configured (the subscription survives reconnects)."""
        if self._config.state_topic is not None:
            self._mqtt.subscribe(self._config.state_topic, self._on_state)

    async def close(self) -> None:
        """Nothing to release: the agent owns the MQTT connection."""

    async def turn(self, on: bool) -> None:
        """Publish `payload_on` or `payload_off` to the command topic."""
        config = self._config
        payload = config.payload_on if on else config.payload_off
        try:
            await self._mqtt.publish(config.command_topic, payload, qos=1, retain=config.retain)
        except ConnectionError as exc:
            raise DeviceUnavailableError(f"cannot publish to {config.command_topic}: {exc}") from exc
        self._commanded = on

    async def read_on(self) -> bool | None:
        """The state last reported on the state topic; without one, the state last commanded (None: not yet)."""
        if self._config.state_topic is not None:
            return self._reported
        return self._commanded

    async def _on_state(self, topic: str, payload: bytes) -> None:
        text = payload.decode("utf-8", "replace").strip()
        on_word = self._config.state_on or self._config.payload_on
        off_word = self._config.state_off or self._config.payload_off
        if text == on_word:
            self._reported = True
        elif text == off_word:
            self._reported = False
        else:
            log.warning("%s: ignored state payload %r (expected %r or %r)", topic, text[:40], on_word, off_word)


def make_switch(config: HomeAssistantLoadConfig | MqttLoadConfig, mqtt: MqttAccess) -> Switch:
    """The driver a load's config asks for."""
    if isinstance(config, HomeAssistantLoadConfig):
        return HomeAssistantSwitch(config)
    return MqttSwitch(config, mqtt)
