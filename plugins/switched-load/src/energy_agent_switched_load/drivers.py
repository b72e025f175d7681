"""Drivers that switch a load on and off: a Home Assistant switch entity (REST API) or an MQTT command topic.

Each driver translates its failures into the core's DeviceError hierarchy here, at the boundary; no
message carries the Home Assistant token.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Protocol

import aiohttp

from energy_agent.api import (
    DeviceAuthError,
    DeviceRejectedError,
    DeviceUnavailableError,
    HomeAssistantAuthError,
    HomeAssistantClient,
    HomeAssistantError,
    HomeAssistantNotFound,
    HomeAssistantRefused,
    MqttAccess,
)
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
        # with a session handed in, the client works at once; otherwise `start` opens one
        self._client = None if session is None else HomeAssistantClient(config, session=session)

    @property
    def _domain(self) -> str:
        return self._config.entity_id.partition(".")[0]

    async def start(self) -> None:
        """Open the REST client (on the injected session, if any)."""
        if self._client is None:
            self._client = HomeAssistantClient(self._config, session=self._session)

    async def close(self) -> None:
        """Close the client's session if it opened one."""
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def turn(self, on: bool) -> None:
        """`POST {url}/services/{domain}/turn_on|turn_off` with the entity id."""
        service = "turn_on" if on else "turn_off"
        with _translated():
            await self._started().call_service(self._domain, service, {"entity_id": self._config.entity_id})

    async def read_on(self) -> bool:
        """`GET {url}/states/{entity_id}`: `on` or `off`; anything else (unavailable, unknown) is an error."""
        with _translated():
            body = await self._started().get_state(self._config.entity_id)
        state = body.get("state")
        if state == "on":
            return True
        if state == "off":
            return False
        raise DeviceUnavailableError(f"Home Assistant reports {self._config.entity_id} as {str(state)[:40]!r}")

    def _started(self) -> HomeAssistantClient:
        if self._client is None:
            raise DeviceUnavailableError("Home Assistant switch used before start()")
        return self._client


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """Home Assistant's errors as the core's DeviceError kinds (the one place this plugin translates them)."""
    try:
        yield
    except HomeAssistantAuthError as exc:
        raise DeviceAuthError(str(exc)) from exc
    except (HomeAssistantNotFound, HomeAssistantRefused) as exc:
        raise DeviceRejectedError(str(exc)) from exc
    except HomeAssistantError as exc:
        raise DeviceUnavailableError(str(exc)) from exc


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
