"""Nord Pool day-ahead prices: the DayAheadPrices parser on an answer in the real shape, the config, and the
polling source against a local stand-in of the Data Portal (204 before publication, DST days, 5xx, 400,
timeouts, another currency)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from energy_agent.api.devices import DeviceContext
from energy_agent.prices.day_ahead import NoPricesYet, PriceFetchError
from energy_agent.prices.from_nordpool import NordPoolPricesConfig, parse_nordpool_day
from energy_agent.prices.sources import PRICE_SOURCE_TYPES
from energy_agent.testing.price_servers import NordPoolStandIn, SteppingClock, day_bounds
from tests.test_prices_entsoe import AMS, QUARTER, Sink, local, per_kwh, quarter_prices

FIXTURE = Path(__file__).parent / "fixtures" / "prices" / "nordpool-se3-se4-2026-10-25-dst.json"
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def answer() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    return data


# --- the parser -----------------------------------------------------------------------------------------------


def test_an_answer_for_a_dst_day_has_100_quarter_hours_per_area() -> None:
    se3 = parse_nordpool_day(answer(), area="SE3", currency="EUR", day=date(2026, 10, 25))
    se4 = parse_nordpool_day(answer(), area="SE4", currency="EUR")
    assert len(se3) == len(se4) == 100
    assert (se3[0].start, se3[-1].end) == day_bounds(date(2026, 10, 25))
    assert all(s.end - s.start == QUARTER for s in se3)
    assert [s.price_eur_kwh for s in se3] == per_kwh(quarter_prices(100, level=40.0))
    assert [s.price_eur_kwh for s in se4] == per_kwh(quarter_prices(100, level=55.0))
    assert min(s.price_eur_kwh for s in se3) < 0  # negative prices stay negative


def changed(**edits: Any) -> dict[str, Any]:
    data = answer()
    for path, value in edits.items():
        target: Any = data
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        if value is None:
            del target[last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            changed(multiAreaEntries__3__entryPerArea__SE3="x"),
            "Nord Pool answer: multiAreaEntries[3].entryPerArea: SE3 'x' is not a number",
        ),
        (changed(multiAreaEntries__4__entryPerArea__SE3=True), "multiAreaEntries[4].entryPerArea: SE3 'True' is not"),
        (changed(multiAreaEntries__5__entryPerArea__SE3=None), "multiAreaEntries[5].entryPerArea: no price for SE3"),
        (
            changed(multiAreaEntries__6__deliveryStart="2026-10-25T01:00:00"),
            "multiAreaEntries[6].deliveryStart: no UTC",
        ),
        (changed(multiAreaEntries__7__deliveryEnd=None), "multiAreaEntries[7].deliveryEnd: missing"),
        (
            changed(multiAreaEntries__8__deliveryEnd="2026-10-24T23:00:00Z"),
            "multiAreaEntries[8].deliveryEnd: not after deliveryStart",
        ),
        (
            changed(
                multiAreaEntries__9__deliveryStart="2026-10-24T22:15:00Z",
                multiAreaEntries__9__deliveryEnd="2026-10-24T22:30:00Z",
            ),
            "multiAreaEntries[9]: duplicates multiAreaEntries[1]",
        ),
        (changed(currency="SEK"), "currency: 'SEK', but 'EUR' was asked for"),
        (changed(deliveryDateCET="2026-10-26"), "deliveryDateCET: '2026-10-26', but 2026-10-25 was asked for"),
        (changed(deliveryAreas=["NO1"]), "deliveryAreas: ['NO1'] does not include 'SE3'"),
        (changed(multiAreaEntries=None), "multiAreaEntries: missing"),
        (changed(multiAreaEntries={"a": 1}), "multiAreaEntries: expected a list, got dict"),
        ([1, 2], "Nord Pool answer: expected a JSON object, got list"),
    ],
)
def test_a_malformed_answer_is_rejected_naming_what_and_where(data: object, message: str) -> None:
    with pytest.raises(PriceFetchError) as caught:
        parse_nordpool_day(data, area="SE3", currency="EUR", day=date(2026, 10, 25))
    assert message in str(caught.value)
    assert not isinstance(caught.value, NoPricesYet)


def test_an_answer_without_entries_is_not_published_yet() -> None:
    with pytest.raises(NoPricesYet, match="no entries for SE3 on 2026-10-25"):
        parse_nordpool_day(changed(multiAreaEntries=[]), area="SE3", currency="EUR", day=date(2026, 10, 25))


def test_config_defaults_and_checks() -> None:
    config = NordPoolPricesConfig.model_validate({"source": "nordpool", "area": " se3 "})
    assert (config.area, config.currency, config.base_url) == (
        "SE3",
        "EUR",
        "https://dataportal-api.nordpoolgroup.com/api",
    )
    assert (config.poll_interval_s, config.price_multiplier, config.price_adder_eur_kwh) == (3600, 1.0, 0.0)
    assert (
        NordPoolPricesConfig.model_validate({"source": "nordpool", "area": "NO1", "currency": "nok"}).currency == "NOK"
    )
    with pytest.raises(ValidationError, match="is not a Nord Pool delivery area"):
        NordPoolPricesConfig.model_validate({"source": "nordpool", "area": "Sweden 3"})
    with pytest.raises(ValidationError, match="is not a currency code"):
        NordPoolPricesConfig.model_validate({"source": "nordpool", "area": "SE3", "currency": "euro"})


# --- the polling source against the stand-in -------------------------------------------------------------------


@contextlib.asynccontextmanager
async def polling(
    standin: NordPoolStandIn,
    clock: SteppingClock,
    sink: Sink,
    area: str = "SE3",
    zone: ZoneInfo = STOCKHOLM,
    **keys: Any,
) -> AsyncIterator[None]:
    config = NordPoolPricesConfig.model_validate(
        {"source": "nordpool", "area": area, "base_url": standin.api_url} | keys
    )
    context = DeviceContext(clock=clock, timezone=zone, state_dir=Path("."), mqtt=None)  # type: ignore[arg-type]
    source = next(t for t in PRICE_SOURCE_TYPES if t.name == "nordpool").create(config, context)
    task = asyncio.create_task(source.run(sink))
    try:
        await clock.asleep()
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_tomorrow_is_asked_for_until_published_and_a_204_is_not_an_error() -> None:
    today, tomorrow = date(2026, 10, 24), date(2026, 10, 25)  # tomorrow is the autumn DST day
    clock = SteppingClock(local(today, 11))
    sink = Sink(clock)
    async with NordPoolStandIn(clock, publish_at=time(13, 10)) as nordpool:
        nordpool.add_day("SE3", today, quarter_prices(96, level=30.0))
        nordpool.add_day("SE3", tomorrow, quarter_prices(100, level=40.0))
        async with polling(nordpool, clock, sink):
            await clock.step_until(local(today, 15))
    asked = [(r.at, r.query["date"]) for r in nordpool.requests]
    assert asked == [
        (local(today, 11), "2026-10-24"),
        (local(today, 11), "2026-10-25"),
        (local(today, 12), "2026-10-24"),
        (local(today, 12), "2026-10-25"),
        (local(today, 13), "2026-10-24"),
        (local(today, 13), "2026-10-25"),
        (local(today, 13, 1), "2026-10-24"),
        (local(today, 13, 1), "2026-10-25"),
        (local(today, 13, 3), "2026-10-24"),
        (local(today, 13, 3), "2026-10-25"),
        (local(today, 13, 7), "2026-10-24"),
        (local(today, 13, 7), "2026-10-25"),
        (local(today, 13, 15), "2026-10-24"),
        (local(today, 13, 15), "2026-10-25"),
        (local(today, 14, 15), "2026-10-24"),
        (local(today, 14, 15), "2026-10-25"),
    ]
    assert nordpool.requests[0].query == {
        "date": "2026-10-24",
        "market": "DayAhead",
        "deliveryArea": "SE3",
        "currency": "EUR",
    }
    assert [len(c.slots) for c in sink.curves] == [96] * 6 + [196] * 2
    assert sink.errors == []
    curve = sink.board.curve
    assert curve is not None
    assert [s.price_eur_kwh for s in curve.slots] == per_kwh(quarter_prices(96, level=30.0)) + per_kwh(
        quarter_prices(100, level=40.0)
    )


async def test_today_not_published_is_an_error_and_failures_keep_the_last_good_curve() -> None:
    today = date(2026, 11, 25)
    clock = SteppingClock(local(today, 9))
    sink = Sink(clock)
    async with NordPoolStandIn(clock) as nordpool:
        async with polling(nordpool, clock, sink, area="NL", zone=AMS, retry_interval_s=10):
            pass
        assert sink.errors[0].startswith("Nord Pool NL 2026-11-25: HTTP 400 at ")
        assert "check prices.area and prices.currency" in sink.errors[0]
        nordpool.add_day("NL", today - timedelta(days=5), quarter_prices(96))
        async with polling(nordpool, clock, sink, area="NL", zone=AMS, retry_interval_s=10, timeout_s=0.3):
            assert (
                sink.errors[-1]
                == f"Nord Pool NL 2026-11-25: not published yet (HTTP 204 at {nordpool.api_url}/DayAheadPrices)"
            )
            nordpool.add_day("NL", today, quarter_prices(96))
            await clock.step()
            good = sink.board.curve
            assert good is not None and len(good.slots) == 96
            nordpool.fail_next(502, count=2)
            await clock.step()  # an hour later: 502
            await clock.step()  # 10 s later: 502 again
            nordpool.delay_s = 1.0
            await clock.step()  # 20 s later: too slow
            nordpool.delay_s = 0
            assert sink.board.curve is good
    assert sink.errors[-3:] == [
        f"Nord Pool NL: the service answered HTTP 502 at {nordpool.api_url}/DayAheadPrices; retrying later",
        f"Nord Pool NL: the service answered HTTP 502 at {nordpool.api_url}/DayAheadPrices; retrying later",
        f"Nord Pool NL: no answer from {nordpool.api_url}/DayAheadPrices within 0.3 s",
    ]


async def test_another_currency_is_asked_for_and_checked() -> None:
    today = date(2026, 11, 25)
    clock = SteppingClock(local(today, 9))
    sink = Sink(clock)
    async with NordPoolStandIn(clock, exchange_rates={"EUR": 1.0, "SEK": 11.5}) as nordpool:
        nordpool.add_day("SE3", today, quarter_prices(96))
        async with polling(nordpool, clock, sink, currency="SEK"):
            pass
    assert nordpool.requests[0].query["currency"] == "SEK"
    assert [s.price_eur_kwh for s in sink.curves[0].slots] == [round(p * 11.5, 2) / 1000 for p in quarter_prices(96)]


def test_the_fixture_is_what_the_stand_in_serves() -> None:
    clock = SteppingClock(datetime(2026, 10, 24, 11, 0, tzinfo=UTC))
    standin = NordPoolStandIn(clock)
    standin.add_day("SE3", date(2026, 10, 25), quarter_prices(100, level=40.0))
    standin.add_day("SE4", date(2026, 10, 25), quarter_prices(100, level=55.0))
    assert standin.answer(date(2026, 10, 25), ["SE3", "SE4"], "EUR") == answer()
