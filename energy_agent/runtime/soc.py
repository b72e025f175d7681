"""The car's state of charge, for a ready-by plan with `target_soc`: read from an MQTT topic or a Home Assistant
entity, handed to the planner whenever it changes.

`standalone.soc_topic`: every message on the topic is a reading, a plain number (`64`, `64.5`) or a JSON object
with `soc` (or `state_of_charge`, `battery_level`); a retained one counts, it is the last known value.
`standalone.soc_entity`: the entity's state, read every `POLL_S` through Home Assistant's REST API (inside the
Home Assistant app without any setting; elsewhere with the `prices` section's url and token when the prices
come from Home Assistant). `unknown` and `unavailable` keep the last reading. A reading that is not a number
within 0..100 is refused with a warning naming the source, and the last good one stays in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Callable

from pydantic import ValidationError

from energy_agent.api.clock import Clock
from energy_agent.api.homeassistant import HomeAssistantClient, HomeAssistantConnection, HomeAssistantError
from energy_agent.config import StandaloneSettings
from energy_agent.mqtt.bus import InboundMessage, MqttBus

log = logging.getLogger(__name__)

POLL_S = 60.0
"""How often `soc_entity` is read."""
JSON_KEYS = ("soc", "state_of_charge", "battery_level")
NO_READING = frozenset({"unknown", "unavailable", ""})


def parse_soc(payload: bytes | str) -> float | None:
    """A reading in percent; None for "no reading" (`unknown`, `unavailable`, empty); ValueError when malformed."""
    text = payload.decode(errors="replace") if isinstance(payload, bytes) else payload
    text = text.strip()
    if text.lower() in NO_READING:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a number") from None
    if isinstance(value, dict):
        key = next((k for k in JSON_KEYS if k in value), None)
        if key is None:
            raise ValueError(f"a JSON object needs one of {', '.join(JSON_KEYS)}")
        value = value[key]
    if isinstance(value, str):
        return parse_soc(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{value!r} is not a number")
    if not 0 <= value <= 100:
        raise ValueError(f"{value!r} is not a state of charge within 0..100 %")
    return float(value)


class SocReader:
    """Feeds `on_reading` with the state of charge from the configured source (see the module docstring)."""

    name = "state of charge reader"

    def __init__(
        self,
        settings: StandaloneSettings,
        *,
        bus: MqttBus,
        clock: Clock,
        on_reading: Callable[[float], None],
        connection: HomeAssistantConnection | None = None,
    ) -> None:
        self._settings = settings
        self._bus = bus
        self._clock = clock
        self._on_reading = on_reading
        self._connection = connection
        self._task: asyncio.Task[None] | None = None
        self._last_problem: str | None = None

    async def start(self) -> None:
        """Subscribe to `soc_topic`, or start reading `soc_entity`."""
        if self._settings.soc_topic is not None:
            self._bus.subscribe_messages(self._settings.soc_topic, self._on_message)
        elif self._settings.soc_entity is not None:
            self._task = asyncio.get_running_loop().create_task(self._poll(self._settings.soc_entity), name="soc")

    async def stop(self) -> None:
        """Stop reading the entity."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _take(self, raw: bytes | str, where: str) -> None:
        try:
            reading = parse_soc(raw)
        except ValueError as exc:
            self._problem(f"state of charge from {where} refused: {exc}; the last good reading stays in force")
            return
        self._last_problem = None
        if reading is not None:
            self._on_reading(reading)

    def _problem(self, text: str) -> None:
        if text != self._last_problem:  # once per distinct problem, not at every reading
            log.warning("%s", text)
            self._last_problem = text

    def _on_message(self, message: InboundMessage) -> None:
        self._take(message.payload, f"MQTT topic {message.topic}")

    async def _poll(self, entity: str) -> None:
        try:
            connection = self._connection or HomeAssistantConnection()
        except ValidationError:
            log.error(
                "standalone.soc_entity %s cannot be read: no Home Assistant connection (run as the Home Assistant "
                "app, or take the prices from Home Assistant, whose url and token are then used)",
                entity,
            )
            return
        client = HomeAssistantClient(connection)
        try:
            while True:
                try:
                    state = await client.get_state(entity)
                    self._take(str(state.get("state", "")), f"entity {entity}")
                except HomeAssistantError as exc:
                    self._problem(f"state of charge from entity {entity} not read: {exc}")
                await self._clock.sleep(POLL_S)
        finally:
            await client.close()
