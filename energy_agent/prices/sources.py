"""Built-in price sources: Home Assistant's REST API, an MQTT topic, a JSON file, ENTSO-E and Nord Pool.

Each is a `PriceSourceType` selected by `prices.source`. Every source validates what it receives (the
first three through `energy_agent.prices.parse_price_curve`), reports failures to the sink (the last good
curve stays in use) and keeps running. No message names a token. Every kind has the all-in price keys
(`price_multiplier`, `price_adder_eur_kwh`; see `energy_agent.prices.all_in`), applied to what it delivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from energy_agent.api.clock import Clock
from energy_agent.api.devices import DeviceContext, MqttAccess
from energy_agent.api.domain import PriceCurve
from energy_agent.api.errors import PriceDataError
from energy_agent.api.homeassistant import (
    HomeAssistantClient,
    HomeAssistantConnection,
    HomeAssistantError,
    entity_id,
)
from energy_agent.api.hooks import hookimpl
from energy_agent.api.prices import PriceSink, PriceSource, PriceSourceType, parse_price_curve
from energy_agent.prices.all_in import AllInPriceConfig, with_all_in
from energy_agent.prices.from_entsoe import EntsoePricesConfig, entsoe_source
from energy_agent.prices.from_nordpool import NordPoolPricesConfig, nordpool_source

log = logging.getLogger(__name__)

DEFAULT_ENTITY_ID = "sensor.energy_prices_electricity_import_price"
"""Where the energy-prices add-on publishes its `price_curve` attribute."""
MAX_FILE_BYTES = 20_000_000
"""A price file larger than this is refused before it is read."""


class HomeAssistantPricesConfig(HomeAssistantConnection, AllInPriceConfig):
    """`prices:` for `source: home_assistant`: poll an entity's `price_curve` attribute over the REST API."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["home_assistant"]
    entity_id: str = DEFAULT_ENTITY_ID
    poll_interval_s: float = Field(default=300.0, gt=0)
    retry_interval_s: float = Field(default=60.0, gt=0)
    """Wait after a failed poll (at most `poll_interval_s`)."""
    timeout_s: float = Field(default=30.0, gt=0, description="Timeout of one HTTP call to Home Assistant.")

    @field_validator("entity_id")
    @classmethod
    def _entity_id(cls, value: str) -> str:
        return entity_id(value)


class MqttPricesConfig(AllInPriceConfig):
    """`prices:` for `source: mqtt`: a (retained) topic holding the list or `{"price_curve": [...]}`."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["mqtt"]
    topic: str = Field(min_length=1)

    @field_validator("topic")
    @classmethod
    def _no_wildcards(cls, value: str) -> str:
        if "+" in value or "#" in value:
            raise ValueError("must be a single topic, without + or # wildcards")
        return value


class FilePricesConfig(AllInPriceConfig):
    """`prices:` for `source: file`: a JSON file, re-read whenever it changes."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["file"]
    path: Path
    """Relative paths are resolved against the current directory when the config is read."""
    poll_interval_s: float = Field(default=10.0, gt=0)
    """How often the file's modification time is checked."""

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value if value.is_absolute() else Path.cwd() / value


def _report(sink: PriceSink, source: str, message: str) -> None:
    """Log a source failure once, clearly, and hand it to the sink (which keeps the last good curve)."""
    log.error("%s price source: %s", source, message)
    sink.error(message)


def _unexpected(exc: Exception) -> str:
    return f"unexpected {type(exc).__name__}: {exc}"


def _curve_from_json(text: str | bytes, where: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PriceDataError(f"invalid price data: {where}: not JSON ({exc})") from exc


class HomeAssistantPriceSource:
    """Polls `GET {url}/states/{entity_id}` and delivers the entity's `price_curve` attribute."""

    def __init__(self, config: HomeAssistantPricesConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock

    async def run(self, sink: PriceSink) -> None:
        """Poll until cancelled; a failure is reported and retried after `retry_interval_s`."""
        client = HomeAssistantClient(self._config)
        try:
            while True:
                try:
                    ok = await self.poll_once(client, sink)
                except Exception as exc:  # a bug or a surprise must not end polling for good
                    log.exception("home_assistant price source failed")
                    sink.error(_unexpected(exc))
                    ok = False
                interval = self._config.poll_interval_s
                await self._clock.sleep(interval if ok else min(interval, self._config.retry_interval_s))
        finally:
            await client.close()

    async def poll_once(self, client: HomeAssistantClient, sink: PriceSink) -> bool:
        """Fetch and deliver one curve; False (after telling the sink) when that failed."""
        entity = self._config.entity_id
        try:
            try:
                data = await client.get_state(entity)
            except HomeAssistantError as exc:
                raise PriceDataError(str(exc)) from exc
            attributes = data.get("attributes")
            if not isinstance(attributes, dict):
                raise PriceDataError(f"invalid price data: {entity}: the state has no attributes")
            if "price_curve" not in attributes:
                raise PriceDataError(f"invalid price data: {entity}.attributes: no 'price_curve' attribute")
            curve = parse_price_curve(attributes["price_curve"], where=f"{entity}.attributes.price_curve")
        except PriceDataError as exc:
            _report(sink, "home_assistant", str(exc))
            return False
        await sink.update(curve)
        return True


class MqttPriceSource:
    """Delivers the curve published on one MQTT topic, each time a message arrives."""

    def __init__(self, config: MqttPricesConfig, mqtt: MqttAccess) -> None:
        self._config = config
        self._mqtt = mqtt
        self._sink: PriceSink | None = None

    async def run(self, sink: PriceSink) -> None:
        """Subscribe and wait until cancelled; the MQTT connection delivers the messages."""
        self._sink = sink
        self._mqtt.subscribe(self._config.topic, self._on_message)
        try:
            await asyncio.Event().wait()
        finally:
            # MqttAccess has no unsubscribe: a stopped source simply ignores later messages
            self._sink = None

    async def _on_message(self, topic: str, payload: bytes) -> None:
        sink = self._sink
        if sink is None:
            return
        try:
            if not payload.strip():
                raise PriceDataError(f"invalid price data: topic {topic}: empty payload")
            curve = parse_price_curve(_curve_from_json(payload, f"topic {topic}"), where=f"{topic}:price_curve")
        except PriceDataError as exc:
            _report(sink, "mqtt", str(exc))
            return
        await sink.update(curve)


FileSignature = tuple[int, int, int]


class FilePriceSource:
    """Reads a JSON price file at start and again whenever its mtime, size or inode changes."""

    def __init__(self, config: FilePricesConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock

    async def run(self, sink: PriceSink) -> None:
        """Poll the file's metadata until cancelled; each version of the file is reported once."""
        seen: FileSignature | str | None = None
        while True:
            try:
                seen = await self._check(seen, sink)
            except Exception as exc:  # a bug or a surprise must not end watching for good
                log.exception("file price source failed")
                sink.error(_unexpected(exc))
            await self._clock.sleep(self._config.poll_interval_s)

    async def _check(self, seen: FileSignature | str | None, sink: PriceSink) -> FileSignature | str:
        path = self._config.path
        try:
            stat = path.stat()
        except OSError as exc:
            problem = f"cannot read price file {path}: {exc.strerror or exc}"
            if seen != problem:
                _report(sink, "file", problem)
            return problem
        signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if signature == seen:
            return signature
        try:
            if stat.st_size > MAX_FILE_BYTES:
                raise PriceDataError(f"price file {path}: {stat.st_size} bytes, more than {MAX_FILE_BYTES}")
            # a price file is small; reading it inline keeps the change detection simple and ordered
            text = path.read_bytes()
            curve = parse_price_curve(_curve_from_json(text, str(path)), where=f"{path.name}:price_curve")
        except OSError as exc:
            _report(sink, "file", f"cannot read price file {path}: {exc.strerror or exc}")
            return signature
        except PriceDataError as exc:
            _report(sink, "file", str(exc))
            return signature
        await sink.update(curve)
        return signature


def _create_home_assistant(config: HomeAssistantPricesConfig, context: DeviceContext) -> HomeAssistantPriceSource:
    return HomeAssistantPriceSource(config, context.clock)


def _create_mqtt(config: MqttPricesConfig, context: DeviceContext) -> MqttPriceSource:
    return MqttPriceSource(config, context.mqtt)


def _create_file(config: FilePricesConfig, context: DeviceContext) -> FilePriceSource:
    return FilePriceSource(config, context.clock)


def _create_entsoe(config: EntsoePricesConfig, context: DeviceContext) -> PriceSource:
    return entsoe_source(config, context.clock, context.timezone)


def _create_nordpool(config: NordPoolPricesConfig, context: DeviceContext) -> PriceSource:
    return nordpool_source(config, context.clock, context.timezone)


PRICE_SOURCE_TYPES = (
    PriceSourceType("home_assistant", HomeAssistantPricesConfig, with_all_in("home_assistant", _create_home_assistant)),
    PriceSourceType("mqtt", MqttPricesConfig, with_all_in("mqtt", _create_mqtt)),
    PriceSourceType("file", FilePricesConfig, with_all_in("file", _create_file)),
    PriceSourceType("entsoe", EntsoePricesConfig, with_all_in("entsoe", _create_entsoe)),
    PriceSourceType("nordpool", NordPoolPricesConfig, with_all_in("nordpool", _create_nordpool)),
)
"""The built-in price sources, by `prices.source` name; each delivers all-in prices."""


@hookimpl
def register_price_sources(register: Callable[[PriceSourceType], None]) -> None:
    """Register the Home Assistant, MQTT, file, ENTSO-E and Nord Pool price sources."""
    for source_type in PRICE_SOURCE_TYPES:
        register(source_type)


class _FirstAnswer:
    """A PriceSink that keeps the first curve or problem a source delivers."""

    def __init__(self) -> None:
        self.answer: asyncio.Future[PriceCurve] = asyncio.get_running_loop().create_future()

    async def update(self, curve: PriceCurve) -> None:
        if not self.answer.done():
            self.answer.set_result(curve)

    def error(self, message: str) -> None:
        if not self.answer.done():
            self.answer.set_exception(PriceDataError(message))


async def fetch_once(source: PriceSource, timeout_s: float) -> PriceCurve:
    """Run `source` until it delivers its first curve (returned) or problem (raised as PriceDataError), then stop it.

    PriceDataError too when nothing arrives within `timeout_s` or the source ends without a word.
    """
    sink = _FirstAnswer()
    task = asyncio.create_task(source.run(sink))
    waiting: set[asyncio.Future[Any]] = {sink.answer, task}
    try:
        async with asyncio.timeout(timeout_s):
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    except TimeoutError:
        raise PriceDataError(f"no prices within {timeout_s:g} s") from None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    if sink.answer.done():
        return sink.answer.result()
    failure = task.exception() if task.done() and not task.cancelled() else None
    if failure is not None:
        raise PriceDataError(_unexpected(failure) if isinstance(failure, Exception) else str(failure))
    raise PriceDataError("the price source stopped without delivering prices")
