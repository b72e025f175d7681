"""ENTSO-E day-ahead prices: the A44 parser on documents in the real shapes, the config, and the polling source
against a local stand-in of the Transparency Platform (A03 gaps, mixed resolutions, DST days, 999, 401, 5xx,
timeouts, tomorrow's publication at 13:00)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from energy_agent.api.devices import DeviceContext
from energy_agent.api.domain import PriceCurve, PriceSlot
from energy_agent.api.errors import ConfigError
from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.config import load_settings
from energy_agent.prices.board import PriceBoard
from energy_agent.prices.day_ahead import NoPricesYet, PriceFetchError, market_window
from energy_agent.prices.from_entsoe import BIDDING_ZONES, EntsoePricesConfig, area_code, parse_entsoe_document
from energy_agent.prices.sources import PRICE_SOURCE_TYPES
from energy_agent.testing.price_servers import EntsoeStandIn, SteppingClock, day_bounds

FIXTURES = Path(__file__).parent / "fixtures" / "prices"
AMS = ZoneInfo("Europe/Amsterdam")
NL = "10YNL----------L"
DE_LU = "10Y1001A1001A82H"
QUARTER = timedelta(minutes=15)


def quarter_prices(count: int, level: float = 80.0) -> list[float]:
    """The EUR/MWh the fixtures were written with: runs of equal prices (A03 leaves them out), negative prices at
    positions 51-56, and the last three equal to the one before them."""
    prices: list[float] = []
    for i in range(count):
        if i % 5 in (2, 3) and prices:
            prices.append(prices[-1])
        elif 50 <= i < 56:
            prices.append(round(-3.5 - i / 10, 2))
        else:
            prices.append(round(level + 30 * math.sin(i / 9), 2))
    prices[-3:] = [prices[-4]] * 3
    return prices


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def per_kwh(prices_eur_mwh: list[float]) -> list[float]:
    return [p / 1000 for p in prices_eur_mwh]


# --- the parser on documents in the real shapes ----------------------------------------------------------------


def test_a03_positions_left_out_repeat_the_previous_price_up_to_the_end_of_the_period() -> None:
    document = fixture("entsoe-a44-nl-2026-11-25-a03.xml")
    assert document.count(b"<Point>") == 56, "the fixture leaves 40 of 96 positions out"

    slots = parse_entsoe_document(document, area=NL)

    assert len(slots) == 96
    assert slots[0].start == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    assert slots[-1].end == datetime(2026, 11, 25, 23, 0, tzinfo=UTC)
    assert all(b.start == a.end and b.end - b.start == QUARTER for a, b in itertools.pairwise(slots))
    assert [s.price_eur_kwh for s in slots] == per_kwh(quarter_prices(96))
    assert slots[52].price_eur_kwh == pytest.approx(-0.0086)  # negative prices stay negative
    assert slots[93].price_eur_kwh == slots[94].price_eur_kwh == slots[95].price_eur_kwh == slots[92].price_eur_kwh


@pytest.mark.parametrize(
    ("name", "count", "start", "end"),
    [
        (
            "entsoe-a44-nl-2026-03-29-dst.xml",
            92,
            datetime(2026, 3, 28, 23, tzinfo=UTC),
            datetime(2026, 3, 29, 22, tzinfo=UTC),
        ),
        (
            "entsoe-a44-nl-2026-10-25-dst.xml",
            100,
            datetime(2026, 10, 24, 22, tzinfo=UTC),
            datetime(2026, 10, 25, 23, tzinfo=UTC),
        ),
    ],
)
def test_dst_days_have_92_or_100_quarter_hours(name: str, count: int, start: datetime, end: datetime) -> None:
    slots = parse_entsoe_document(fixture(name), area=NL)
    assert len(slots) == count
    assert (slots[0].start, slots[-1].end) == (start, end)
    assert [s.price_eur_kwh for s in slots] == per_kwh(quarter_prices(count))
    # the local clock shows the change: 92 slots cover 23 local hours, 100 slots 25
    assert (end - start) == count * QUARTER


def test_mixed_answer_takes_sdac_quarter_hours_and_hourly_prices_only_where_nothing_finer_exists() -> None:
    slots = parse_entsoe_document(fixture("entsoe-a44-de-lu-2026-11-25-mixed.xml"), area=DE_LU)

    day1, day2 = slots[:96], slots[96:]
    assert len(day2) == 24
    assert all(s.end - s.start == QUARTER for s in day1)
    assert all(s.end - s.start == timedelta(hours=1) for s in day2)
    assert [s.price_eur_kwh for s in day1] == per_kwh(quarter_prices(96))
    assert [s.price_eur_kwh for s in day2] == per_kwh(quarter_prices(96, level=95.0)[::4])
    assert day2[0].start == day1[-1].end == datetime(2026, 11, 25, 23, tzinfo=UTC)
    # neither the EXAA series (sequence 2, 3.50 EUR/MWh dearer) nor the intraday one (A07, 11 dearer) got in
    assert PriceCurve(tuple(slots))  # sorted, no overlaps


def test_the_no_data_acknowledgement_means_not_published_yet() -> None:
    with pytest.raises(NoPricesYet, match=r"reason 999: No matching data found for Data item ENERGY_PRICES"):
        parse_entsoe_document(fixture("entsoe-ack-999.xml"))
    other = fixture("entsoe-ack-999.xml").replace(b"<code>999</code>", b"<code>A59</code>")
    with pytest.raises(PriceFetchError, match="ENTSO-E refused the request: reason A59") as caught:
        parse_entsoe_document(other)
    assert not isinstance(caught.value, NoPricesYet)


def test_only_other_auctions_in_the_answer_means_no_day_ahead_prices_yet() -> None:
    text = fixture("entsoe-a44-nl-2026-11-25-a03.xml").replace(
        b"</contract_MarketAgreement.type>",
        b"</contract_MarketAgreement.type>\n<classificationSequence_AttributeInstanceComponent.position>2"
        b"</classificationSequence_AttributeInstanceComponent.position>",
    )
    with pytest.raises(NoPricesYet, match="no day-ahead TimeSeries"):
        parse_entsoe_document(text)


def nth_replaced(text: str, old: str, new: str, n: int) -> str:
    """`text` with the n-th (0-based) occurrence of `old` replaced."""
    spans = [m.start() for m in re.finditer(re.escape(old), text)]
    at = spans[n]
    return text[:at] + new + text[at + len(old) :]


def with_price(text: str, n: int, value: str) -> str:
    """`text` with the n-th (0-based) price.amount set to `value`."""
    matches = list(re.finditer(r"<price\.amount>[^<]*</price\.amount>", text))
    found = matches[n]
    return text[: found.start()] + f"<price.amount>{value}</price.amount>" + text[found.end() :]


A03 = fixture("entsoe-a44-nl-2026-11-25-a03.xml").decode()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            with_price(A03, 5, "x"),
            "ENTSO-E document: TimeSeries[0].Period[0].Point[5]: price.amount 'x' is not a number",
        ),
        (with_price(A03, 0, "NaN"), "TimeSeries[0].Period[0].Point[0]: price.amount 'NaN' is not a finite number"),
        (with_price(A03, 3, ""), "TimeSeries[0].Period[0].Point[3]: price.amount missing"),
        (
            A03.replace("<position>92</position>", "<position>97</position>"),
            "Point[55]: position '97' is not between 1 and 96",
        ),
        (A03.replace("<position>92</position>", "<position>91</position>"), "Point[55]: position 91 appears twice"),
        (
            A03.replace("<resolution>PT15M</resolution>", "<resolution>P1D</resolution>"),
            "Period[0].resolution: 'P1D' is not",
        ),
        (
            A03.replace(
                "<end>2026-11-25T23:00Z</end>\n\t\t\t</timeInterval>",
                "<end>2026-11-25T23:10Z</end>\n\t\t\t</timeInterval>",
            ),
            "TimeSeries[0].Period[0].timeInterval: 1 day, 0:10:00 is not a whole number of 0:15:00 steps",
        ),
        (
            A03.replace("<start>2026-11-24T23:00Z</start>\n\t\t\t", "<start>tomorrow</start>\n\t\t\t"),
            "timeInterval.start: not an ISO 8601 time ('tomorrow')",
        ),
        (
            A03.replace("<curveType>A03</curveType>", "<curveType>A02</curveType>"),
            "TimeSeries[0].curveType: 'A02', expected A01 or A03",
        ),
        (
            A03.replace("<curveType>A03</curveType>", "<curveType>A01</curveType>"),
            "TimeSeries[0].Period[0]: positions 3, 4, 8, 9, 13, ... missing (curveType A01 lists every position)",
        ),
        (nth_replaced(A03, "<position>1</position>", "<position>3</position>", 0), "position 1 missing"),
        (
            A03.replace("<currency_Unit.name>EUR", "<currency_Unit.name>PLN"),
            "TimeSeries[0].currency_Unit.name: 'PLN', expected EUR",
        ),
        (
            A03.replace("<price_Measure_Unit.name>MWH", "<price_Measure_Unit.name>KWH"),
            "price_Measure_Unit.name: 'KWH', expected MWH",
        ),
        (
            A03.replace(f">{NL}</in_Domain", f">{DE_LU}</in_Domain"),
            f"TimeSeries[0].in_Domain.mRID: '{DE_LU}', but '{NL}' was asked for",
        ),
        (A03.replace("<type>A44</type>", "<type>A65</type>"), "ENTSO-E document.type: 'A65', expected A44"),
        (A03[: len(A03) // 2], "ENTSO-E document: not XML"),
        ("<GL_MarketDocument/>", "the root element is 'GL_MarketDocument', not Publication_MarketDocument"),
        (re.sub(r"\s*<Point>.*?</Point>", "", A03, flags=re.DOTALL), "TimeSeries[0].Period[0]: no Point"),
        (
            '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><Publication_MarketDocument>&lol;'
            "</Publication_MarketDocument>",
            "has a DOCTYPE or ENTITY declaration",
        ),
    ],
)
def test_a_malformed_document_is_rejected_naming_what_and_where(document: str, message: str) -> None:
    with pytest.raises(PriceFetchError) as caught:
        parse_entsoe_document(document.encode(), area=NL)
    assert message in str(caught.value)
    assert not isinstance(caught.value, NoPricesYet)


def test_two_day_ahead_series_disagreeing_on_a_slot_are_an_error() -> None:
    series = A03[A03.index("\t<TimeSeries>") : A03.index("</Publication_MarketDocument>")]
    other = series.replace("<price.amount>83.33</price.amount>", "<price.amount>84</price.amount>")
    document = A03.replace("</Publication_MarketDocument>", other + "</Publication_MarketDocument>")
    with pytest.raises(
        PriceFetchError,
        match=r"TimeSeries\[1\]\.Period\[0\]: the 0:15:00 slot at 2026-11-24T23:15Z "
        r"is priced 84 EUR/MWh here and 83.33 in TimeSeries\[0\]\.Period\[0\]",
    ):
        parse_entsoe_document(document.encode())
    same = A03.replace("</Publication_MarketDocument>", series + "</Publication_MarketDocument>")
    assert len(parse_entsoe_document(same.encode())) == 96  # a repeated series that agrees is harmless


def test_many_problems_are_listed_up_to_a_limit() -> None:
    document = A03
    for n in range(56):
        document = with_price(document, n, "?")
    with pytest.raises(PriceFetchError) as caught:
        parse_entsoe_document(document.encode())
    text = str(caught.value)
    assert "Point[0]: price.amount" in text
    assert "Point[9]: price.amount" in text
    assert "Point[10]" not in text
    assert "... and 46 more problems" in text


# --- config -------------------------------------------------------------------------------------------------


def test_area_takes_an_eic_code_or_a_bidding_zone_name() -> None:
    assert area_code("10YNL----------L") == NL
    assert area_code(" nl ") == NL
    assert area_code("10ynl----------l") == NL
    assert area_code("de-lu") == DE_LU
    assert area_code("SE3") == "10Y1001A1001A46L"
    assert len(set(BIDDING_ZONES.values())) == len(BIDDING_ZONES)
    assert all(re.fullmatch(r"[0-9]{2}[A-Z][A-Z0-9-]{13}", code) for code in BIDDING_ZONES.values())
    with pytest.raises(ValueError, match=r"'NLD' is neither an EIC code .* did you mean 'NL' \(10YNL----------L\)\?"):
        area_code("NLD")


def registry() -> Any:
    return collect(get_plugin_manager(load_entry_points=False))


def test_config_errors_name_the_key_and_never_show_the_token() -> None:
    base = {"source": "entsoe", "token": "secret-token-81", "area": "NL"}
    config = EntsoePricesConfig.model_validate(base)
    assert (config.area, config.base_url, config.poll_interval_s, config.retry_interval_s) == (
        NL,
        "https://web-api.tp.entsoe.eu/api",
        3600,
        60,
    )
    assert (config.price_multiplier, config.price_adder_eur_kwh) == (1.0, 0.0)
    assert "secret-token-81" not in repr(config)

    with pytest.raises(ConfigError) as caught:
        load_settings(
            registry(), data={"prices": {"source": "entsoe", "area": "Holland", "token": "a b"}}, environ=False
        )
    problems = caught.value.problems
    assert any(p.startswith("prices.area: 'Holland' is neither an EIC code") for p in problems), problems
    assert any(p.startswith("prices.token: must be the security token") for p in problems), problems
    assert not any("a b" in p for p in problems)
    with pytest.raises(ConfigError, match=r"prices.token: Field required"):
        load_settings(registry(), data={"prices": {"source": "entsoe", "area": "NL"}}, environ=False)
    with pytest.raises(ValidationError, match="extra"):
        EntsoePricesConfig.model_validate({**base, "api_key": "x"})


# --- the polling source against the stand-in -----------------------------------------------------------------


class Sink:
    """A PriceSink that records what it gets and hands it on to a real PriceBoard."""

    def __init__(self, clock: SteppingClock) -> None:
        self.board = PriceBoard(clock)
        self.curves: list[PriceCurve] = []
        self.errors: list[str] = []

    async def update(self, curve: PriceCurve) -> None:
        self.curves.append(curve)
        await self.board.update(curve)

    def error(self, message: str) -> None:
        self.errors.append(message)
        self.board.error(message)


def market_start(day: date) -> datetime:
    return day_bounds(day)[0]


@contextlib.asynccontextmanager
async def polling(
    standin: EntsoeStandIn, clock: SteppingClock, sink: Any, zone: ZoneInfo = AMS, **keys: Any
) -> AsyncIterator[None]:
    """The registered `entsoe` source running against `standin` until the block ends."""
    data = {"source": "entsoe", "token": standin.token, "area": standin.area, "base_url": standin.api_url} | keys
    config = EntsoePricesConfig.model_validate(data)
    source_type = next(t for t in PRICE_SOURCE_TYPES if t.name == "entsoe")
    source = source_type.create(config, DeviceContext(clock=clock, timezone=zone, state_dir=Path("."), mqtt=None))  # type: ignore[arg-type]
    task = asyncio.create_task(source.run(sink))
    try:
        await clock.asleep()
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), AMS).astimezone(UTC)


@pytest.mark.parametrize(
    ("today", "today_slots", "tomorrow_slots"),
    [
        (date(2026, 11, 25), 96, 96),
        (date(2026, 3, 29), 92, 96),
        (date(2026, 3, 28), 96, 92),
        (date(2026, 10, 25), 100, 96),
    ],
)
async def test_a_day_of_polling_picks_up_tomorrow_at_13_and_polls_hourly_otherwise(
    today: date, today_slots: int, tomorrow_slots: int
) -> None:
    tomorrow = today + timedelta(days=1)
    clock = SteppingClock(local(today, 0))
    sink = Sink(clock)
    async with EntsoeStandIn(clock) as entsoe:
        entsoe.add_day(today, quarter_prices(today_slots))
        entsoe.add_day(tomorrow, quarter_prices(tomorrow_slots, level=60.0))
        async with polling(entsoe, clock, sink):
            assert [len(c.slots) for c in sink.curves] == [today_slots]
            woken = await clock.step_until(local(tomorrow, 0) - timedelta(seconds=1))

    polls = [request.at for request in entsoe.requests]
    day_hours = (day_bounds(today)[1] - day_bounds(today)[0]) // timedelta(hours=1)
    # hourly, on the hour, from midnight: 23, 24 or 25 polls, 13:00 local time among them
    assert polls == [local(today, 0) + timedelta(hours=n) for n in range(day_hours)]
    assert woken == polls[1:]
    assert local(today, 13) in polls
    before_13 = (local(today, 13) - local(today, 0)) // timedelta(hours=1)
    counts = [len(c.slots) for c in sink.curves]
    assert counts == [today_slots] * before_13 + [today_slots + tomorrow_slots] * (day_hours - before_13)
    curve = sink.board.curve
    assert curve is not None and curve.end == day_bounds(tomorrow)[1]
    assert [s.price_eur_kwh for s in curve.slots] == per_kwh(quarter_prices(today_slots)) + per_kwh(
        quarter_prices(tomorrow_slots, level=60.0)
    )
    assert sink.errors == []
    first = entsoe.requests[0].query
    assert first == {
        "securityToken": entsoe.token,
        "documentType": "A44",
        "in_Domain": NL,
        "out_Domain": NL,
        "periodStart": market_start(today).strftime("%Y%m%d%H%M"),
        "periodEnd": market_start(today + timedelta(days=2)).strftime("%Y%m%d%H%M"),
        "contract_MarketAgreement.type": "A01",
    }


async def test_late_publication_is_retried_with_a_backoff_from_13_00() -> None:
    today = date(2026, 11, 25)
    clock = SteppingClock(local(today, 12, 30))
    sink = Sink(clock)
    async with EntsoeStandIn(clock, publish_at=time(13, 20)) as entsoe:
        entsoe.add_day(today, quarter_prices(96))
        entsoe.add_day(today + timedelta(days=1), quarter_prices(96))
        async with polling(entsoe, clock, sink):
            await clock.step_until(local(today, 16))
    minutes_after_13 = [int((r.at - local(today, 13)).total_seconds() // 60) for r in entsoe.requests]
    # 12:30; 13:00 (first look), then 1, 2, 4, 8, 16 minutes apart until found at 13:31; then hourly
    assert minutes_after_13 == [-30, 0, 1, 3, 7, 15, 31, 91, 151]
    assert [len(c.slots) for c in sink.curves] == [96] * 6 + [192] * 3
    assert sink.errors == []


async def test_an_agent_east_of_the_market_gets_its_whole_local_day() -> None:
    helsinki = ZoneInfo("Europe/Helsinki")
    today = date(2026, 11, 25)
    clock = SteppingClock(datetime(2026, 11, 25, 8, 0, tzinfo=helsinki))  # 07:00 CET
    sink = Sink(clock)
    async with EntsoeStandIn(clock, area=BIDDING_ZONES["FI"]) as entsoe:
        for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
            entsoe.add_day(day, quarter_prices(96))
        async with polling(entsoe, clock, sink, zone=helsinki):
            pass
    query = entsoe.requests[0].query
    # the local day starts at 22:00Z, an hour before the market's: that hour of the market's yesterday is asked for
    assert (query["periodStart"], query["periodEnd"]) == ("202611242200", "202611262300")
    curve = sink.curves[0]
    assert curve.slots[0].start == datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    assert len(curve.slots) == 4 + 96
    assert curve.end == datetime(2026, 11, 25, 23, 0, tzinfo=UTC)  # the market's tomorrow comes at 13:00 CET
    assert market_window(clock.now(), helsinki).days == (today - timedelta(days=1), today, today + timedelta(days=1))


async def test_failures_are_retried_with_backoff_and_the_last_good_curve_stays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    today = date(2026, 11, 25)
    clock = SteppingClock(local(today, 14))
    sink = Sink(clock)
    async with EntsoeStandIn(clock) as entsoe:
        entsoe.add_day(today, quarter_prices(96))
        entsoe.add_day(today + timedelta(days=1), quarter_prices(96))
        async with polling(entsoe, clock, sink, retry_interval_s=30):
            good = sink.board.curve
            assert good is not None and len(good.slots) == 192
            entsoe.fail_next(503)
            entsoe.fail_next(429, body="Too many requests")
            entsoe.fail_next(500, body=f"internal error near securityToken={entsoe.token}")
            for _ in range(4):
                await clock.step()
            assert sink.board.curve is good
            health = sink.board.health
            assert health.ok
            assert health.last_error is not None and "HTTP 500" in health.last_error
    starts = [int((r.at - local(today, 14)).total_seconds()) for r in entsoe.requests]
    assert starts == [0, 3600, 3630, 3690, 3810]  # the hour; then 30 s, doubling, after each failure
    assert [e.split(": ", 1)[1] for e in sink.errors] == [
        f"the service answered HTTP 503 at {entsoe.api_url}; retrying later",
        f"too many requests (HTTP 429 at {entsoe.api_url}); retrying later",
        f"the service answered HTTP 500 at {entsoe.api_url}; retrying later",
    ]
    assert health.covers_until == day_bounds(today + timedelta(days=1))[1]
    assert entsoe.token not in caplog.text


async def test_a_refused_token_is_reported_and_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = SteppingClock(local(date(2026, 11, 25), 9))
    sink = Sink(clock)
    wrong = "d3adb33f-wrong-token"
    async with EntsoeStandIn(clock) as entsoe:
        entsoe.add_day(date(2026, 11, 25), quarter_prices(96))
        async with polling(entsoe, clock, sink, token=wrong):
            await entsoe.stop()
            await clock.step()
    assert entsoe.requests[0].query["securityToken"] == wrong  # it was sent, in the query
    assert sink.errors[0] == (
        f"ENTSO-E {NL}: the security token was refused (HTTP 401 at {entsoe.api_url}); check prices.token"
    )
    assert sink.errors[1].startswith(f"ENTSO-E {NL}: cannot reach {entsoe.api_url}: ")
    assert sink.board.curve is None
    assert not any(wrong in e for e in sink.errors)
    assert "the security token was refused" in caplog.text
    assert wrong not in caplog.text


@pytest.mark.parametrize("status", [200, 400])
async def test_no_data_for_today_is_an_error_naming_the_reason(status: int) -> None:
    clock = SteppingClock(local(date(2026, 11, 25), 9))
    sink = Sink(clock)
    async with EntsoeStandIn(clock, no_data_status=status) as entsoe, polling(entsoe, clock, sink):
        pass
    assert sink.curves == []
    assert sink.errors == [
        f"ENTSO-E {NL}: ENTSO-E has no day-ahead prices for this request (yet): reason 999: No matching data found "
        f"for Data item Energy Prices [12.1.D] ({NL}) and interval 2026-11-24T23:00Z/2026-11-26T23:00Z."
    ]


async def test_a_slow_answer_times_out() -> None:
    clock = SteppingClock(local(date(2026, 11, 25), 9))
    sink = Sink(clock)
    async with EntsoeStandIn(clock) as entsoe:
        entsoe.add_day(date(2026, 11, 25), quarter_prices(96))
        entsoe.delay_s = 2.0
        async with polling(entsoe, clock, sink, timeout_s=0.2):
            pass
    assert sink.errors == [f"ENTSO-E {NL}: no answer from {entsoe.api_url} within 0.2 s"]


def test_slots_that_do_not_cover_now_are_not_a_curve_and_slots_outside_the_window_are_dropped() -> None:
    now = local(date(2026, 11, 26), 9)
    window = market_window(now, AMS)
    yesterday = [
        PriceSlot(
            market_start(date(2026, 11, 25)) + i * QUARTER, market_start(date(2026, 11, 25)) + (i + 1) * QUARTER, 0.1
        )
        for i in range(96)
    ]
    with pytest.raises(
        NoPricesYet,
        match=r"ENTSO-E NL: no day-ahead price covers 2026-11-26T08:00:00\+00:00 \(asked for "
        r"2026-11-25T23:00:00\+00:00 to 2026-11-27T23:00:00\+00:00, got 0 slots\)",
    ):
        window.curve_of(yesterday, now, "ENTSO-E NL")
    today = [PriceSlot(s.start + timedelta(days=1), s.end + timedelta(days=1), 0.2) for s in yesterday]
    curve = window.curve_of(yesterday + today, now, "ENTSO-E NL")
    assert curve.slots == tuple(today)


def test_the_area_table_of_the_prices_page_is_the_one_the_config_knows() -> None:
    page = (Path(__file__).parent.parent / "docs" / "prices.md").read_text()
    listed = dict(re.findall(r"\| `([A-Z0-9_]+)` \| `([0-9A-Z-]{16})` \|", page))
    assert listed == BIDDING_ZONES
