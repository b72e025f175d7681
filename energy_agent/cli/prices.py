"""`energy-agent prices`: fetch once from the configured price source and print the curve the agent would plan on.

No `from __future__ import annotations`: typer reads the annotations of the nested command function.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from energy_agent.api.clock import SystemClock
from energy_agent.api.devices import DeviceContext
from energy_agent.api.domain import PriceCurve
from energy_agent.api.errors import EnergyAgentError
from energy_agent.api.prices import price_curve_json
from energy_agent.app.plugins import Registry
from energy_agent.cli.common import ConfigOption, fail, load_config
from energy_agent.config import CoreSettings, MqttSettings
from energy_agent.prices.all_in import AllInPrice
from energy_agent.prices.sources import fetch_once

DEFAULT_TIMEOUT_S = 60.0

MessageHandler = Callable[[str, bytes], Awaitable[None]]


class _OneShotMqtt:
    """The MqttAccess an MQTT price source needs, over one short-lived client (nothing is published)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._handlers: dict[str, MessageHandler] = {}
        self._subscribing: set[asyncio.Task[None]] = set()

    async def publish(self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False) -> None:
        """Not needed to read prices; refused so that the check never changes the broker."""
        raise ConnectionError("energy-agent prices does not publish")

    def subscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        """Subscribe (in the background) and hand each message on the topic to `handler`."""
        self._handlers[topic_filter] = handler
        task = asyncio.get_running_loop().create_task(self._client.subscribe(topic_filter, qos=1))
        self._subscribing.add(task)
        task.add_done_callback(self._subscribing.discard)

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        """Connected from the start."""

    async def pump(self) -> None:
        """Deliver messages until cancelled."""
        async for message in self._client.messages:
            handler = self._handlers.get(str(message.topic))
            if handler is not None:
                await handler(str(message.topic), bytes(message.payload))


@contextlib.asynccontextmanager
async def _mqtt_access(settings: MqttSettings, timeout_s: float) -> AsyncIterator[_OneShotMqtt]:
    from energy_agent.mqtt.request import connect  # only the mqtt source needs a broker

    async with connect(settings, "auto" if settings.protocol == "5" else "3.1.1", timeout_s) as (client, _):
        access = _OneShotMqtt(client)
        pump = asyncio.create_task(access.pump())
        try:
            yield access
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump


async def fetch_curve(settings: CoreSettings, registry: Registry, timeout_s: float) -> PriceCurve:
    """The first curve of the configured source, at all-in prices, as the agent would receive it."""
    prices = settings.prices  # type: ignore[attr-defined]
    source_type = registry.price_sources[prices.source]
    async with contextlib.AsyncExitStack() as stack:
        mqtt: Any = None
        if prices.source == "mqtt":
            try:
                mqtt = await stack.enter_async_context(_mqtt_access(settings.mqtt, timeout_s))
            except Exception as exc:  # aiomqtt errors: refused, unreachable
                broker = f"{settings.mqtt.host}:{settings.mqtt.port}"
                raise EnergyAgentError(f"cannot reach the MQTT broker {broker}: {exc}") from None
        context = DeviceContext(clock=SystemClock(), timezone=settings.zone, state_dir=settings.state_dir, mqtt=mqtt)
        return await fetch_once(source_type.create(prices, context), timeout_s)


def render(curve: PriceCurve, *, source: str, formula: AllInPrice, zone: ZoneInfo) -> list[str]:
    """The human form: a header, then one line per slot (with the spot price when a formula applies)."""
    rows = price_curve_json(curve, zone)
    lines = [f"source: {source}; price = {formula.describe()}" if not formula.is_identity else f"source: {source}"]
    if not rows:
        return [*lines, "no price slots"]
    lines.append(f"{len(rows)} slots from {rows[0]['start']} to {rows[-1]['end']} ({zone.key}), prices in EUR/kWh")
    spot = not formula.is_identity
    lines.append(f"{'start':<26} {'end':<26} {'price':>10}" + (f" {'spot':>10}" if spot else ""))
    for slot, row in zip(curve.slots, rows, strict=True):
        line = f"{row['start']:<26} {row['end']:<26} {slot.price_eur_kwh:>10.6f}"
        if spot and slot.spot_eur_kwh is not None:
            line += f" {slot.spot_eur_kwh:>10.6f}"
        lines.append(line)
    return lines


def add_prices_command(app: typer.Typer, registry: Registry) -> None:
    """Add `prices` to the CLI."""

    @app.command()
    def prices(
        config: ConfigOption = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print [{start, end, price}] as JSON.")] = False,
        timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = DEFAULT_TIMEOUT_S,
    ) -> None:
        """Fetch once from the configured price source and print the curve the agent would plan on (all-in prices)."""
        settings = load_config(config, registry)
        section = getattr(settings, "prices", None)
        if section is None:
            fail("the config has no prices: section; nothing to fetch (see docs/prices.md)")
        if timeout <= 0:
            fail(f"--timeout {timeout:g}: must be above 0")
        # the sources log their failures; here the error line below says it once
        logging.getLogger("energy_agent").addHandler(logging.NullHandler())
        try:
            curve = asyncio.run(fetch_curve(settings, registry, timeout))
        except EnergyAgentError as exc:
            fail(f"{section.source}: {exc}", code=1)
        if as_json:
            typer.echo(json.dumps(price_curve_json(curve, settings.zone), indent=2))
            return
        for line in render(curve, source=section.source, formula=AllInPrice.of(section), zone=settings.zone):
            typer.echo(line)
