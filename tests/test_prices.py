"""Price data: strict parsing with paths in errors, freshness, the board, and the three built-in sources."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from pydantic import ValidationError

from energy_agent.api.devices import DeviceContext
from energy_agent.api.domain import PriceCurve, PriceSlot
from energy_agent.api.errors import PriceDataError
from energy_agent.api.homeassistant import SUPERVISOR_URL
from energy_agent.api.prices import MAX_PRICE_SLOTS, PriceSink, parse_price_curve
from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.prices.board import EMPTY_DELIVERY, PriceBoard, curve_freshness, merge_curves
from energy_agent.prices.sources import (
    PRICE_SOURCE_TYPES,
    FilePricesConfig,
    HomeAssistantPricesConfig,
    HomeAssistantPriceSource,
    MqttPricesConfig,
    MqttPriceSource,
)
from energy_agent.testing.clock import ManualClock

T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
ENTITY = "sensor.energy_prices_electricity_import_price"
PRICE_SOURCE_TYPES_BY_NAME = {source_type.name: source_type for source_type in PRICE_SOURCE_TYPES}


def slots_json(prices: list[float], start: datetime = T0, offset: str = "+01:00") -> list[dict[str, Any]]:
    """Back-to-back quarter hours as the energy-prices add-on publishes them."""
    items = []
    for index, price in enumerate(prices):
        begin = start + index * QUARTER
        items.append(
            {
                "start": (begin).strftime("%Y-%m-%dT%H:%M:%S") + offset,
                "end": (begin + QUARTER).strftime("%Y-%m-%dT%H:%M:%S") + offset,
                "price": price,
            }
        )
    return items


# --- parsing ----------------------------------------------------------------------------------------------------


def test_parse_accepts_the_list_or_an_object_holding_it_and_sorts() -> None:
    items = slots_json([0.2, 0.1, 0.3])
    curve = parse_price_curve([items[2], items[0], items[1]])

    assert [slot.price_eur_kwh for slot in curve.slots] == [0.2, 0.1, 0.3]
    assert curve.slots[0].start == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    assert parse_price_curve({"price_curve": items, "unit": "EUR/kWh"}) == curve
    assert parse_price_curve([{"start": "2026-11-25T00:00:00Z", "end": "2026-11-25T00:15:00Z", "price": 1}]).slots == (
        PriceSlot(T0, T0 + QUARTER, 1.0),
    )
    assert parse_price_curve([]) == PriceCurve(())


def broken(index: int, **changes: Any) -> list[dict[str, Any]]:
    items = slots_json([0.1, 0.2, 0.3, 0.4])
    for key, value in changes.items():
        if value is None:
            del items[index][key]
        else:
            items[index][key] = value
    return items


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (broken(3, end="tomorrow"), "price_curve[3].end: not an ISO 8601 time ('tomorrow')"),
        (broken(0, start="2026-11-25T00:00:00"), "price_curve[0].start: no UTC offset"),
        (broken(1, start=1764028800), "price_curve[1].start: not an ISO 8601 time (got int)"),
        (broken(1, price=None), "price_curve[1].price: missing"),
        (broken(2, end=None), "price_curve[2].end: missing"),
        (broken(0, price="0.21"), "price_curve[0].price: not a number (got str)"),
        (broken(0, price=True), "price_curve[0].price: not a number (got bool)"),
        (broken(0, price=float("nan")), "price_curve[0].price: not a finite number"),
        (broken(0, price=float("inf")), "price_curve[0].price: not a finite number"),
        (broken(1, end="2026-11-25T00:15:00+01:00"), "price_curve[1].end: not after start"),
        ([*slots_json([0.1]), "0.2"], "price_curve[1]: expected an object"),
        ({"prices": []}, "price_curve: an object without a 'price_curve' list"),
        ("0.21", "price_curve: expected a list of {start, end, price} objects, got str"),
        ({"price_curve": None}, "price_curve: expected a list"),
        (slots_json([0.1, 0.2]) + slots_json([0.1]), "price_curve[2].start: duplicates price_curve[0]"),
    ],
)
def test_malformed_data_is_rejected_naming_what_and_where(data: object, message: str) -> None:
    with pytest.raises(PriceDataError) as caught:
        parse_price_curve(data)
    assert message in str(caught.value)


def test_a_long_slot_overlapping_several_later_ones_is_reported_for_each() -> None:
    items = slots_json([0.1, 0.2, 0.3, 0.4])
    items[0]["end"] = items[2]["end"]  # slot 0 now spans slots 1 and 2
    with pytest.raises(PriceDataError) as caught:
        parse_price_curve(items, where="sensor.x.attributes.price_curve")
    text = str(caught.value)
    assert "sensor.x.attributes.price_curve[1].start: overlaps sensor.x.attributes.price_curve[0]" in text
    assert "sensor.x.attributes.price_curve[2].start: overlaps sensor.x.attributes.price_curve[0]" in text
    assert "[3]" not in text


def test_every_problem_is_listed_up_to_a_limit() -> None:
    items = [{"start": "x", "end": "2026-11-25T00:15:00+01:00", "price": 0.1} for _ in range(30)]
    with pytest.raises(PriceDataError) as caught:
        parse_price_curve(items)
    text = str(caught.value)
    assert "price_curve[0].start" in text
    assert "price_curve[9].start" in text
    assert "price_curve[10].start" not in text
    assert "... and 20 more problems" in text


def test_too_many_slots_are_refused_before_parsing() -> None:
    with pytest.raises(PriceDataError, match=f"more than the {MAX_PRICE_SLOTS} allowed"):
        parse_price_curve([{}] * (MAX_PRICE_SLOTS + 1))


# --- freshness --------------------------------------------------------------------------------------------------


def curve(prices: list[float], start: datetime = T0) -> PriceCurve:
    return PriceCurve(
        tuple(PriceSlot(start + i * QUARTER, start + (i + 1) * QUARTER, price) for i, price in enumerate(prices))
    )


def test_a_curve_covering_now_and_the_next_hours_is_fresh() -> None:
    day = curve([0.2] * 96)
    assert curve_freshness(day, T0 + timedelta(hours=2)) is None
    # exactly three hours left is still enough
    assert curve_freshness(day, T0 + timedelta(hours=21)) is None


@pytest.mark.parametrize(
    ("when", "fragment"),
    [
        (T0 - timedelta(minutes=1), "no price slot covers 2026-11-24T23:59:00+00:00"),
        (T0 + timedelta(hours=24), "no price slot covers 2026-11-26T00:00:00+00:00"),
        (T0 + timedelta(hours=21, minutes=1), "they end at 2026-11-26T00:00:00+00:00, less than 3 h ahead"),
    ],
)
def test_a_curve_not_covering_now_or_ending_soon_is_stale(when: datetime, fragment: str) -> None:
    warning = curve_freshness(curve([0.2] * 96), when)
    assert warning is not None
    assert fragment in warning
    assert "not charging" in warning


def test_a_gap_at_now_is_stale_and_the_horizon_is_configurable() -> None:
    gappy = PriceCurve((*curve([0.2] * 4).slots, *curve([0.2] * 40, T0 + timedelta(hours=2)).slots))
    assert curve_freshness(gappy, T0 + timedelta(hours=1, minutes=30)) is not None
    assert curve_freshness(gappy, T0 + timedelta(minutes=30), min_ahead_s=3600) is None
    assert curve_freshness(gappy, T0 + timedelta(minutes=30), min_ahead_s=24 * 3600) is not None


def test_no_curve_at_all_is_stale() -> None:
    assert curve_freshness(None, T0) == "no price data: not charging until prices arrive"
    assert curve_freshness(PriceCurve(()), T0) is not None


# --- the board --------------------------------------------------------------------------------------------------


async def test_board_notifies_on_changed_curves_only_and_keeps_the_last_good_one() -> None:
    clock = ManualClock(T0)
    board = PriceBoard(clock)
    sink: PriceSink = board
    seen: list[PriceCurve] = []

    async def listener(new: PriceCurve) -> None:
        seen.append(new)

    board.subscribe(listener)
    first = curve([0.1, 0.2])
    await sink.update(first)
    await sink.update(curve([0.1, 0.2]))  # equal content: no news
    assert seen == [first]
    assert board.curve == first
    assert board.updated_at == T0

    await clock.advance(60)
    sink.error("home assistant: HTTP 500")
    assert board.curve == first
    assert board.last_error == "home assistant: HTTP 500"
    assert board.error_at == T0 + timedelta(seconds=60)

    second = curve([0.3, 0.25])  # a correction of both slots replaces them
    await sink.update(second)
    assert seen == [first, second]
    assert board.last_error is None
    assert board.updated_at == T0 + timedelta(seconds=60)


async def test_board_health_tells_the_last_success_the_last_problem_and_what_the_curve_covers() -> None:
    clock = ManualClock(T0)
    board = PriceBoard(clock, source="entsoe")
    empty = board.health
    assert (empty.source, empty.ok, empty.last_success_at, empty.last_error, empty.covers_from) == (
        "entsoe",
        False,
        None,
        None,
        None,
    )

    board.error("ENTSO-E NL: HTTP 503")
    assert not board.health.ok
    await clock.advance(60)
    first = curve([0.1] * 8)
    await board.update(first)
    await clock.advance(3600)
    await board.update(curve([0.1] * 8))  # the same curve again: a success all the same
    health = board.health
    assert health.ok
    assert health.last_success_at == T0 + timedelta(seconds=3660)
    assert (health.last_error, health.last_error_at) == ("ENTSO-E NL: HTTP 503", T0), "kept after recovery"
    assert (health.covers_from, health.covers_until) == (T0, T0 + 2 * timedelta(hours=1))
    assert board.last_error is None, "the status entities' field is still cleared on success"

    await clock.advance(60)
    board.error("ENTSO-E NL: no answer within 30 s")
    failing = board.health
    assert not failing.ok
    assert failing.last_error_at == T0 + timedelta(seconds=3720)
    assert failing.covers_until == T0 + 2 * timedelta(hours=1), "the last good curve still counts"
    assert failing.to_json() == {
        "source": "entsoe",
        "ok": False,
        "last_success_at": "2026-11-25T01:01:00+00:00",
        "last_error": "ENTSO-E NL: no answer within 30 s",
        "last_error_at": "2026-11-25T01:02:00+00:00",
        "covers_from": "2026-11-25T00:00:00+00:00",
        "covers_until": "2026-11-25T02:00:00+00:00",
    }
    with pytest.raises(AttributeError):
        failing.ok = True  # type: ignore[misc]


async def test_an_empty_delivery_is_no_news_and_recorded_as_a_problem(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock(T0)
    board = PriceBoard(clock, source="home_assistant")
    seen: list[PriceCurve] = []

    async def listener(new: PriceCurve) -> None:
        seen.append(new)

    board.subscribe(listener)
    first = curve([0.1, 0.2, 0.3])
    await board.update(first)
    await clock.advance(60)
    with caplog.at_level(logging.WARNING):
        await board.update(PriceCurve(()))
    assert board.curve == first
    assert seen == [first]
    health = board.health
    assert (health.ok, health.last_error, health.last_error_at) == (False, EMPTY_DELIVERY, T0 + timedelta(seconds=60))
    assert health.last_success_at == T0
    assert any(r.levelno == logging.WARNING and EMPTY_DELIVERY in r.getMessage() for r in caplog.records)


async def test_a_shorter_curve_keeps_the_slots_it_does_not_cover_and_corrections_win() -> None:
    clock = ManualClock(T0 + 2 * QUARTER)
    board = PriceBoard(clock)
    two_days = curve([0.1] * 8)
    await board.update(two_days)
    # today only, with a corrected price for the third slot: the rest of the old curve stays
    shorter = curve([0.1, 0.1, 0.5])
    await board.update(shorter)
    assert board.curve is not None
    assert [s.price_eur_kwh for s in board.curve.slots] == [0.1, 0.1, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1]
    assert board.curve.end == two_days.end


def test_merging_clips_partly_covered_slots_and_drops_what_ended_before_the_cut() -> None:
    hour = timedelta(hours=1)
    old = PriceCurve(
        tuple(PriceSlot(T0 + i * hour, T0 + (i + 1) * hour, p) for i, p in enumerate([0.1, 0.2, 0.3, 0.4]))
    )
    new = PriceCurve((PriceSlot(T0 + hour + QUARTER, T0 + hour + 2 * QUARTER, 0.9),))
    merged = merge_curves(old, new, keep_after=T0 + hour)
    assert [(s.start - T0, s.end - T0, s.price_eur_kwh) for s in merged.slots] == [
        (hour, hour + QUARTER, 0.2),
        (hour + QUARTER, hour + 2 * QUARTER, 0.9),
        (hour + 2 * QUARTER, 2 * hour, 0.2),
        (2 * hour, 3 * hour, 0.3),
        (3 * hour, 4 * hour, 0.4),
    ]
    assert merge_curves(None, new) == new
    assert merge_curves(old, old) == old


async def test_old_slots_that_ended_before_today_local_midnight_are_dropped() -> None:
    ams = ZoneInfo("Europe/Amsterdam")
    yesterday = datetime(2026, 11, 24, tzinfo=ams)
    clock = ManualClock(datetime(2026, 11, 25, 9, 0, tzinfo=ams))
    board = PriceBoard(clock, zone=ams)
    await board.update(curve([0.2] * 4 * 48, start=yesterday))  # yesterday and today
    await board.update(curve([0.3] * 4, start=datetime(2026, 11, 25, 9, 0, tzinfo=ams)))
    assert board.curve is not None
    assert board.curve.slots[0].start == datetime(2026, 11, 25, tzinfo=ams)
    assert board.curve.end == datetime(2026, 11, 26, tzinfo=ams)


def test_board_health_without_a_clock_has_no_times() -> None:
    board = PriceBoard()
    board.error("x")
    assert board.health.last_error_at is None
    assert board.health.source is None


async def test_a_failing_listener_does_not_stop_the_others_and_unsubscribe_works(
    caplog: pytest.LogCaptureFixture,
) -> None:
    board = PriceBoard()
    calls: list[str] = []

    async def broken_listener(_: PriceCurve) -> None:
        calls.append("broken")
        raise RuntimeError("boom")

    async def good_listener(_: PriceCurve) -> None:
        calls.append("good")

    board.subscribe(broken_listener)
    unsubscribe = board.subscribe(good_listener)
    with caplog.at_level(logging.ERROR):
        await board.update(curve([0.1]))
    assert calls == ["broken", "good"]
    assert "listener" in caplog.text

    unsubscribe()
    unsubscribe()  # twice is harmless
    await board.update(curve([0.2]))
    assert calls == ["broken", "good", "broken"]


# --- sources: shared fakes --------------------------------------------------------------------------------------


class RecordingSink:
    """Records what a source delivers and passes it on to a real PriceBoard; tests wait on it with a short timeout."""

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.board = PriceBoard(clock)
        self.curves: list[PriceCurve] = []
        self.errors: list[str] = []
        self._changed = asyncio.Event()

    async def update(self, curve: PriceCurve) -> None:
        self.curves.append(curve)
        await self.board.update(curve)
        self._changed.set()

    def error(self, message: str) -> None:
        self.errors.append(message)
        self.board.error(message)
        self._changed.set()

    async def wait(self, *, curves: int = 0, errors: int = 0, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while len(self.curves) < curves or len(self.errors) < errors:
                self._changed.clear()
                await self._changed.wait()


@contextlib.asynccontextmanager
async def running(run: Coroutine[Any, Any, None]) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(run)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class FakeMqtt:
    """The MqttAccess a plugin gets: subscriptions are recorded, and tests deliver messages by hand."""

    def __init__(self) -> None:
        self.handlers: dict[str, Callable[[str, bytes], Awaitable[None]]] = {}
        self.published: list[tuple[str, bytes | str]] = []

    async def publish(self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False) -> None:
        self.published.append((topic, payload))

    def subscribe(self, topic_filter: str, handler: Callable[[str, bytes], Awaitable[None]]) -> None:
        self.handlers[topic_filter] = handler

    async def deliver(self, topic: str, payload: bytes) -> None:
        await self.handlers[topic](topic, payload)


def context(clock: ManualClock, mqtt: FakeMqtt | None = None) -> DeviceContext:
    return DeviceContext(
        clock=clock, timezone=ZoneInfo("Europe/Amsterdam"), state_dir=Path("."), mqtt=mqtt or FakeMqtt()
    )


def test_the_built_in_sources_register_through_the_hook() -> None:
    registry = collect(get_plugin_manager(load_entry_points=False))
    names = ("home_assistant", "mqtt", "file", "entsoe", "nordpool")
    assert set(names) <= set(registry.price_sources)
    for name in names:
        assert registry.price_sources[name].config_model.model_fields["source"].annotation is not None


# --- file source ------------------------------------------------------------------------------------------------


def write(path: Path, data: object, mtime_s: float) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")
    # set the mtime explicitly: two writes within one clock tick of the file system would look unchanged
    os.utime(path, (mtime_s, mtime_s))


async def test_file_source_reads_at_start_and_again_only_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    write(path, slots_json([0.1, 0.2]), 1_000)
    clock = ManualClock(T0)
    config = FilePricesConfig(source="file", path=path, poll_interval_s=10)
    source = PRICE_SOURCE_TYPES_BY_NAME["file"].create(config, context(clock))
    sink = RecordingSink()

    async with running(source.run(sink)):
        await sink.wait(curves=1)
        assert [s.price_eur_kwh for s in sink.curves[0].slots] == [0.1, 0.2]
        await clock.advance(30)
        assert len(sink.curves) == 1  # unchanged file: not read again

        write(path, {"price_curve": slots_json([0.3])}, 2_000)
        await clock.advance(10)
        await sink.wait(curves=2)
        assert [s.price_eur_kwh for s in sink.curves[1].slots] == [0.3]

        write(path, broken(2, end="soon"), 3_000)
        await clock.advance(10)
        await sink.wait(errors=1)
        assert "prices.json:price_curve[2].end: not an ISO 8601 time" in sink.errors[0]
        await clock.advance(50)
        assert len(sink.errors) == 1  # the same broken file is reported once

        path.write_text("{not json", encoding="utf-8")
        os.utime(path, (4_000, 4_000))
        await clock.advance(10)
        await sink.wait(errors=2)
        assert "not JSON" in sink.errors[1]

        path.unlink()
        await clock.advance(10)
        await sink.wait(errors=3)
        assert f"cannot read price file {path}" in sink.errors[2]
        await clock.advance(50)
        assert len(sink.errors) == 3

        write(path, slots_json([0.4]), 5_000)
        await clock.advance(10)
        await sink.wait(curves=3)
    assert len(sink.curves) == 3


def test_file_config_resolves_relative_paths_against_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = FilePricesConfig.model_validate({"source": "file", "path": "data/prices.json"})
    assert config.path == tmp_path / "data" / "prices.json"
    assert config.poll_interval_s == 10
    with pytest.raises(ValidationError, match="extra"):
        FilePricesConfig.model_validate({"source": "file", "path": "p.json", "poll_s": 1})
    with pytest.raises(ValidationError):
        FilePricesConfig.model_validate({"source": "mqtt", "path": "p.json"})


# --- mqtt source ------------------------------------------------------------------------------------------------


async def test_mqtt_source_delivers_each_valid_message_and_reports_bad_ones() -> None:
    mqtt = FakeMqtt()
    source = MqttPriceSource(MqttPricesConfig(source="mqtt", topic="energy/prices"), mqtt)
    sink = RecordingSink()

    async with running(source.run(sink)):
        await asyncio.sleep(0)
        assert list(mqtt.handlers) == ["energy/prices"]
        await mqtt.deliver("energy/prices", json.dumps(slots_json([0.1, 0.2])).encode())
        await mqtt.deliver("energy/prices", json.dumps({"price_curve": slots_json([0.3])}).encode())
        await mqtt.deliver("energy/prices", b"{oops")
        await mqtt.deliver("energy/prices", b"")
        await mqtt.deliver("energy/prices", json.dumps(broken(1, price="cheap")).encode())

    assert [[s.price_eur_kwh for s in c.slots] for c in sink.curves] == [[0.1, 0.2], [0.3]]
    assert "topic energy/prices: not JSON" in sink.errors[0]
    assert "topic energy/prices: empty payload" in sink.errors[1]
    assert "energy/prices:price_curve[1].price: not a number (got str)" in sink.errors[2]

    # a stopped source ignores what the connection still delivers
    await mqtt.deliver("energy/prices", json.dumps(slots_json([0.9])).encode())
    assert len(sink.curves) == 2


def test_mqtt_config_refuses_wildcards() -> None:
    with pytest.raises(ValidationError, match="wildcards"):
        MqttPricesConfig.model_validate({"source": "mqtt", "topic": "energy/+/prices"})


# --- home assistant source --------------------------------------------------------------------------------------

TOKEN = "good-token-5f1c"


class FakeHomeAssistant:
    """A small real HTTP server answering `GET /api/states/{entity_id}` like Home Assistant does."""

    def __init__(self) -> None:
        self.attributes: dict[str, Any] = {"price_curve": slots_json([0.1, 0.2])}
        self.status = 200
        self.requests = 0
        self.url = ""
        app = web.Application()
        app.router.add_get("/api/states/{entity_id}", self._state)
        self._runner = web.AppRunner(app)

    async def _state(self, request: web.Request) -> web.Response:
        self.requests += 1
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"message": "Invalid authentication"}, status=401)
        if request.match_info["entity_id"] != ENTITY:
            return web.json_response({"message": "Entity not found."}, status=404)
        if self.status != 200:
            return web.Response(status=self.status, text="oops")
        return web.json_response({"entity_id": ENTITY, "state": "0.21", "attributes": self.attributes})

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/api"

    async def stop(self) -> None:
        await self._runner.cleanup()


@pytest.fixture
async def home_assistant() -> AsyncIterator[FakeHomeAssistant]:
    server = FakeHomeAssistant()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def ha_source(url: str, clock: ManualClock, token: str = TOKEN, entity_id: str = ENTITY) -> HomeAssistantPriceSource:
    config = HomeAssistantPricesConfig(source="home_assistant", url=url, token=token, entity_id=entity_id)
    return HomeAssistantPriceSource(config, clock)


async def test_home_assistant_source_polls_the_entity_with_the_bearer_token(home_assistant: FakeHomeAssistant) -> None:
    clock = ManualClock(T0)
    sink = RecordingSink(clock)
    board = sink.board

    async with running(ha_source(home_assistant.url, clock).run(sink)):
        await sink.wait(curves=1)
        assert [s.price_eur_kwh for s in board.curve.slots] == [0.1, 0.2]  # type: ignore[union-attr]

        home_assistant.attributes = {"price_curve": slots_json([0.3, 0.4, 0.5])}
        await clock.advance(299)
        assert home_assistant.requests == 1
        await clock.advance(1)
        await sink.wait(curves=2)
        assert len(board.curve.slots) == 3  # type: ignore[union-attr]

        home_assistant.attributes = {"price_curve": broken(0, price=None)}
        await clock.advance(300)
        await sink.wait(errors=1)
        assert f"{ENTITY}.attributes.price_curve[0].price: missing" in board.last_error  # type: ignore[operator]
        assert len(board.curve.slots) == 3  # type: ignore[union-attr]  # the last good curve stays

        # after a failure it retries sooner than the poll interval
        home_assistant.attributes = {"unit": "EUR/kWh"}
        await clock.advance(60)
        await sink.wait(errors=2)
        assert "no 'price_curve' attribute" in sink.errors[1]

        home_assistant.status = 500
        await clock.advance(60)
        await sink.wait(errors=3)
        assert "Home Assistant answered HTTP 500" in sink.errors[2]
    assert home_assistant.requests == 5


async def test_home_assistant_errors_never_show_the_token(
    home_assistant: FakeHomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = ManualClock(T0)
    sink = RecordingSink()
    async with running(ha_source(home_assistant.url, clock, token="wrong-secret-9").run(sink)):
        await sink.wait(errors=1)
    async with running(ha_source(home_assistant.url, clock, entity_id="sensor.nope").run(sink)):
        await sink.wait(errors=2)
    await home_assistant.stop()
    async with running(ha_source(home_assistant.url, clock, token="wrong-secret-9").run(sink)):
        await sink.wait(errors=3)

    assert "refused the token (HTTP 401)" in sink.errors[0]
    assert "no entity sensor.nope (HTTP 404" in sink.errors[1]
    assert f"cannot reach Home Assistant at {home_assistant.url}/states/{ENTITY}" in sink.errors[2]
    assert not any("wrong-secret-9" in error or TOKEN in error for error in sink.errors)
    assert "home_assistant price source: Home Assistant refused the token (HTTP 401)" in caplog.text
    assert "wrong-secret-9" not in caplog.text
    assert TOKEN not in caplog.text


class FlakySink(RecordingSink):
    """A sink whose first update blows up, as a buggy consumer would."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def update(self, curve: PriceCurve) -> None:
        if not self.failed:
            self.failed = True
            raise RuntimeError("consumer bug")
        await super().update(curve)


async def test_home_assistant_source_keeps_polling_after_an_unexpected_failure(
    home_assistant: FakeHomeAssistant,
) -> None:
    clock = ManualClock(T0)
    sink = FlakySink()
    async with running(ha_source(home_assistant.url, clock).run(sink)) as task:
        await sink.wait(errors=1)
        assert sink.errors == ["unexpected RuntimeError: consumer bug"]
        await clock.advance(60)
        await sink.wait(curves=1)
        assert not task.done()


def test_home_assistant_token_defaults_to_the_supervisor_token_inside_the_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUPERVISOR_TOKEN", "from-supervisor-77")
    config = HomeAssistantPricesConfig.model_validate({"source": "home_assistant"})
    assert config.url == SUPERVISOR_URL
    assert config.token is not None
    assert config.token.get_secret_value() == "from-supervisor-77"
    assert config.poll_interval_s == 300
    assert config.entity_id == ENTITY
    assert "from-supervisor-77" not in repr(config)

    # outside the app the supervisor token is not sent to some other host
    with pytest.raises(ValidationError, match="token: required"):
        HomeAssistantPricesConfig.model_validate({"source": "home_assistant", "url": "http://ha.local:8123/api"})

    monkeypatch.delenv("SUPERVISOR_TOKEN")
    with pytest.raises(ValidationError, match="SUPERVISOR_TOKEN is not set"):
        HomeAssistantPricesConfig.model_validate({"source": "home_assistant"})


def test_home_assistant_config_checks_url_and_entity() -> None:
    base = {"source": "home_assistant", "token": "t"}
    assert HomeAssistantPricesConfig.model_validate({**base, "url": "http://ha:8123/api/"}).url == "http://ha:8123/api"
    with pytest.raises(ValidationError, match="http"):
        HomeAssistantPricesConfig.model_validate({**base, "url": "ha:8123"})
    with pytest.raises(ValidationError, match=r"domain\.object_id"):
        HomeAssistantPricesConfig.model_validate({**base, "entity_id": "energy_prices"})
    with pytest.raises(ValidationError, match="extra"):
        HomeAssistantPricesConfig.model_validate({**base, "api_key": "x"})
