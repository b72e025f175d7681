"""Stand-ins for the ENTSO-E Transparency Platform and the Nord Pool Data Portal, on loopback.

Real aiohttp servers that answer in the real shapes: ENTSO-E's A44 `Publication_MarketDocument` (one
TimeSeries per delivery day, curveType A03 leaving out repeated prices by default, PT15M, optionally a
PT60M series beside it and an EXAA "sequence 2" series), its `Acknowledgement_MarketDocument` with
reason 999 when nothing matches, HTTP 401 for a wrong token; Nord Pool's DayAheadPrices JSON, HTTP 204
for a day not published yet. Tomorrow is published at `publish_at` (13:00 CE(S)T) on the injected clock.
`fail_next` queues error answers (5xx, 429, ...) and `delay_s` slows every answer (for timeouts).
`SteppingClock` steps a polling source from one wake-up to the next, so a day of polling runs in a second.

    async with EntsoeStandIn(clock) as entsoe:
        entsoe.add_day(date(2026, 11, 25), prices_eur_mwh)      # 96 quarter hours (92/100 on DST days)
        config = {"source": "entsoe", "token": entsoe.token, "area": entsoe.area, "base_url": entsoe.url}

`python -m energy_agent.testing.price_servers entsoe --port 8090` serves sample prices for today and
tomorrow on the wall clock, to try `energy-agent prices` without an account.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Self
from zoneinfo import ZoneInfo

from aiohttp import web

from energy_agent.api.clock import Clock, SystemClock
from energy_agent.testing.clock import ManualClock
from energy_agent.testing.prices import WHOLESALE_BY_HOUR_EUR_MWH

MARKET_ZONE = ZoneInfo("Europe/Brussels")
ENTSOE_NAMESPACE = "urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:3"
ACK_NAMESPACE = "urn:iec62325.351:tc57wg16:451-1:acknowledgementdocument:7:0"
NL = "10YNL----------L"
UNAUTHORIZED_PAGE = "<html><body><h1>401 Unauthorized</h1></body></html>"
EXAA_PREMIUM_EUR_MWH = 3.5
"""How much the stand-in's sequence-2 (EXAA) prices differ from the SDAC ones."""


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """A market (CET) day's start and end in UTC: 23, 24 or 25 hours apart."""
    start = datetime.combine(day, time(), MARKET_ZONE).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), MARKET_ZONE).astimezone(UTC)
    return start, end


@dataclass(frozen=True)
class MarketDay:
    """One delivery day's prices in EUR/MWh, one per `resolution_min` minutes, from the day's CET midnight."""

    day: date
    prices_eur_mwh: tuple[float, ...]
    resolution_min: int

    @classmethod
    def of(cls, day: date, prices_eur_mwh: Sequence[float]) -> MarketDay:
        """The resolution follows from the count: a price per quarter hour or per hour of the (DST) day."""
        start, end = day_bounds(day)
        hours = (end - start) // timedelta(hours=1)
        for minutes in (15, 60):
            if len(prices_eur_mwh) == hours * 60 // minutes:
                return cls(day, tuple(prices_eur_mwh), minutes)
        raise ValueError(f"{day}: {len(prices_eur_mwh)} prices fit neither quarter hours nor hours of a {hours} h day")

    @property
    def step(self) -> timedelta:
        """The resolution."""
        return timedelta(minutes=self.resolution_min)

    def slots(self) -> list[tuple[datetime, datetime, float]]:
        """`(start, end, price_eur_mwh)` in UTC."""
        start, _ = day_bounds(self.day)
        return [(start + i * self.step, start + (i + 1) * self.step, p) for i, p in enumerate(self.prices_eur_mwh)]

    def hourly(self) -> MarketDay:
        """Hourly averages (rounded to cents), as the platform publishes beside quarter-hour prices."""
        per_hour = 60 // self.resolution_min
        averaged = [
            round(sum(self.prices_eur_mwh[i : i + per_hour]) / per_hour, 2)
            for i in range(0, len(self.prices_eur_mwh), per_hour)
        ]
        return MarketDay(self.day, tuple(averaged), 60)


def sample_prices_eur_mwh(
    day: date, *, resolution_min: int = 15, seed: int = 7, negative_midday: bool = False
) -> list[float]:
    """Made-up wholesale prices for a CET day (any length): the winter shape of `testing.prices`, runs of equal
    prices (so curveType A03 leaves positions out), optionally negative around midday."""
    rng = random.Random(f"{seed}-{day.isoformat()}")
    start, end = day_bounds(day)
    prices: list[float] = []
    moment = start
    while moment < end:
        hour = moment.astimezone(MARKET_ZONE).hour
        base = float(WHOLESALE_BY_HOUR_EUR_MWH[hour])
        if negative_midday and 11 <= hour < 15:
            base = -abs(base) / 10
        # a quarter of the slots repeat the previous price: the runs A03 compresses
        same = prices and rng.random() < 0.25
        prices.append(prices[-1] if same else round(base + rng.uniform(-8, 8), 2))
        moment += timedelta(minutes=resolution_min)
    return prices


def _number(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _utc_minutes(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


class SteppingClock(ManualClock):
    """A ManualClock that steps a polling task from one wake-up to the next.

    `step()` waits (in real time) until a task sleeps on the clock, moves the clock to the earliest wake-up, and
    waits until the woken task sleeps again: its HTTP work on loopback is done by then. Meant for one polling task.
    """

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self._pending: list[datetime] = []
        self._asleep = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        """Record the wake-up, then sleep as ManualClock does."""
        wake = self.now() + timedelta(seconds=max(seconds, 0.0))
        self._pending.append(wake)
        self._asleep.set()
        try:
            await super().sleep(seconds)
        finally:
            self._pending.remove(wake)

    async def asleep(self, timeout_s: float = 5.0) -> None:
        """Wait until some task sleeps on the clock."""
        async with asyncio.timeout(timeout_s):
            while not self._pending:
                self._asleep.clear()
                await self._asleep.wait()

    async def step(self, timeout_s: float = 5.0) -> datetime:
        """Advance to the next wake-up and let the woken task run until it sleeps again; returns the wake-up."""
        await self.asleep(timeout_s)
        wake = min(self._pending)
        self._asleep.clear()
        await self.advance(max((wake - self.now()).total_seconds(), 0.0))
        async with asyncio.timeout(timeout_s):
            await self._asleep.wait()
        return wake

    async def step_until(self, when: datetime, timeout_s: float = 5.0) -> list[datetime]:
        """Step while the next wake-up is before `when`, then set the clock to `when`; returns the wake-ups."""
        woken: list[datetime] = []
        await self.asleep(timeout_s)
        while min(self._pending) <= when:
            woken.append(await self.step(timeout_s))
        await self.advance(max((when - self.now()).total_seconds(), 0.0))
        return woken


@dataclass(frozen=True)
class Request:
    """A request a stand-in received: when (on its clock) and its query."""

    at: datetime
    query: dict[str, str]


@dataclass
class Answer:
    """A queued error answer: status and body."""

    status: int
    body: str = ""
    content_type: str = "text/plain"


class StandIn:
    """An aiohttp server on 127.0.0.1 with a request log, queued failures and an optional delay."""

    def __init__(self, clock: Clock, port: int = 0) -> None:
        self.clock = clock
        self.port = port
        self.requests: list[Request] = []
        """Every request, in order."""
        self.delay_s = 0.0
        """Real seconds to wait before answering (a client with a shorter timeout gives up)."""
        self._failures: list[Answer] = []
        self._app = web.Application()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, status: int, count: int = 1, body: str = "Service Unavailable") -> None:
        """Answer the next `count` requests with `status` and `body`."""
        self._failures.extend(Answer(status, body) for _ in range(count))

    async def start(self) -> None:
        """Listen (on a free port unless one was given)."""
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _before(self, request: web.Request) -> web.Response | None:
        """Log the request, wait `delay_s`, and answer a queued failure if there is one."""
        self.requests.append(Request(self.clock.now(), dict(request.query)))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self._failures:
            failure = self._failures.pop(0)
            return web.Response(status=failure.status, text=failure.body, content_type=failure.content_type)
        return None

    def published(self, day: date, publish_at: time) -> bool:
        """True when `day`'s prices are out: from `publish_at` CE(S)T the day before."""
        release = datetime.combine(day - timedelta(days=1), publish_at, MARKET_ZONE)
        return self.clock.now() >= release


class EntsoeStandIn(StandIn):
    """`GET /api?documentType=A44&...` as the Transparency Platform answers it (see the module docstring)."""

    def __init__(
        self,
        clock: Clock,
        *,
        token: str = "0b8e6b2e-entsoe-test-token",
        area: str = NL,
        curve_type: str = "A03",
        hourly_too: bool = False,
        exaa_too: bool = False,
        no_data_status: int = 200,
        publish_at: time = time(13, 0),
        port: int = 0,
    ) -> None:
        super().__init__(clock, port)
        self.token = token
        self.area = area
        self.curve_type = curve_type
        self.hourly_too = hourly_too
        """Also publish a PT60M TimeSeries (hourly averages) beside each PT15M one."""
        self.exaa_too = exaa_too
        """Also publish a classificationSequence 2 TimeSeries (the EXAA auction in DE-LU and AT)."""
        self.no_data_status = no_data_status
        """The HTTP status of the "no data" Acknowledgement (200 today; 400 in earlier years)."""
        self.publish_at = publish_at
        self.days: dict[date, MarketDay] = {}
        self._document_ids = itertools.count(1)
        self._app.router.add_get("/api", self._answer)

    @property
    def api_url(self) -> str:
        """The `base_url` to configure."""
        return f"{self.url}/api"

    def add_day(self, day: date, prices_eur_mwh: Sequence[float]) -> MarketDay:
        """Set a delivery day's prices (96 quarter hours, or 92/100 on DST days; or hourly)."""
        market_day = MarketDay.of(day, prices_eur_mwh)
        self.days[day] = market_day
        return market_day

    async def _answer(self, request: web.Request) -> web.Response:
        failure = await self._before(request)
        if failure is not None:
            return failure
        query = request.query
        if query.get("securityToken") != self.token:
            return web.Response(
                status=401, text="<html><body><h1>401 Unauthorized</h1></body></html>", content_type="text/html"
            )
        if query.get("documentType") != "A44" or query.get("contract_MarketAgreement.type", "A01") != "A01":
            return self._acknowledgement("999", "This combination of parameters is not supported.", status=400)
        try:
            start = datetime.strptime(query["periodStart"], "%Y%m%d%H%M").replace(tzinfo=UTC)
            end = datetime.strptime(query["periodEnd"], "%Y%m%d%H%M").replace(tzinfo=UTC)
        except (KeyError, ValueError):
            return self._acknowledgement("999", "periodStart and periodEnd (yyyyMMddHHmm) are required.", status=400)
        area = query.get("in_Domain")
        days = [
            market_day
            for day, market_day in sorted(self.days.items())
            if area == self.area == query.get("out_Domain")
            and self.published(day, self.publish_at)
            and day_bounds(day)[0] < end
            and day_bounds(day)[1] > start
        ]
        if not days:
            text = (
                f"No matching data found for Data item Energy Prices [12.1.D] ({area}) and interval "
                f"{_utc_minutes(start)}/{_utc_minutes(end)}."
            )
            return self._acknowledgement("999", text, status=self.no_data_status)
        return web.Response(text=self.document(days, start, end), content_type="application/xml")

    def _acknowledgement(self, code: str, text: str, *, status: int) -> web.Response:
        now = self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        body = f"""<?xml version="1.0" encoding="utf-8"?>
<Acknowledgement_MarketDocument xmlns="{ACK_NAMESPACE}">
\t<mRID>ack-{next(self._document_ids)}</mRID>
\t<createdDateTime>{now}</createdDateTime>
\t<sender_MarketParticipant.mRID codingScheme="A01">10X1001A1001A450</sender_MarketParticipant.mRID>
\t<sender_MarketParticipant.marketRole.type>A32</sender_MarketParticipant.marketRole.type>
\t<receiver_MarketParticipant.mRID codingScheme="A01">10X1001A1001A39I</receiver_MarketParticipant.mRID>
\t<receiver_MarketParticipant.marketRole.type>A39</receiver_MarketParticipant.marketRole.type>
\t<received_MarketDocument.createdDateTime>{now}</received_MarketDocument.createdDateTime>
\t<Reason>
\t\t<code>{code}</code>
\t\t<text>{text}</text>
\t</Reason>
</Acknowledgement_MarketDocument>
"""
        return web.Response(status=status, text=body, content_type="application/xml")

    def document(self, days: Sequence[MarketDay], start: datetime, end: datetime) -> str:
        """The A44 document for `days`, as the platform writes it."""
        series: list[str] = []
        counter = itertools.count(1)
        for market_day in days:
            series.append(self._time_series(next(counter), market_day, sequence=1 if self.exaa_too else None))
            if self.hourly_too and market_day.resolution_min < 60:
                series.append(
                    self._time_series(next(counter), market_day.hourly(), sequence=1 if self.exaa_too else None)
                )
            if self.exaa_too:
                exaa = MarketDay(
                    market_day.day, tuple(p + 3.5 for p in market_day.prices_eur_mwh), market_day.resolution_min
                )
                series.append(self._time_series(next(counter), exaa, sequence=2))
        first, last = day_bounds(days[0].day)[0], day_bounds(days[-1].day)[1]
        now = self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            f"""<?xml version="1.0" encoding="utf-8"?>
<Publication_MarketDocument xmlns="{ENTSOE_NAMESPACE}">
\t<mRID>a44-{next(self._document_ids)}</mRID>
\t<revisionNumber>1</revisionNumber>
\t<type>A44</type>
\t<sender_MarketParticipant.mRID codingScheme="A01">10X1001A1001A450</sender_MarketParticipant.mRID>
\t<sender_MarketParticipant.marketRole.type>A32</sender_MarketParticipant.marketRole.type>
\t<receiver_MarketParticipant.mRID codingScheme="A01">10X1001A1001A450</receiver_MarketParticipant.mRID>
\t<receiver_MarketParticipant.marketRole.type>A33</receiver_MarketParticipant.marketRole.type>
\t<createdDateTime>{now}</createdDateTime>
\t<period.timeInterval>
\t\t<start>{_utc_minutes(first)}</start>
\t\t<end>{_utc_minutes(last)}</end>
\t</period.timeInterval>
"""
            + "".join(series)
            + "</Publication_MarketDocument>\n"
        )

    def _time_series(self, number: int, market_day: MarketDay, *, sequence: int | None) -> str:
        start, end = day_bounds(market_day.day)
        points: list[str] = []
        previous: float | None = None
        for position, price in enumerate(market_day.prices_eur_mwh, start=1):
            if self.curve_type == "A03" and price == previous:
                continue  # A03: a position whose price equals the previous one is left out
            previous = price
            points.append(
                f"\t\t\t<Point>\n\t\t\t\t<position>{position}</position>\n"
                f"\t\t\t\t<price.amount>{_number(price)}</price.amount>\n\t\t\t</Point>\n"
            )
        sequence_line = (
            ""
            if sequence is None
            else f"\t\t<classificationSequence_AttributeInstanceComponent.position>{sequence}"
            "</classificationSequence_AttributeInstanceComponent.position>\n"
        )
        return (
            f"\t<TimeSeries>\n\t\t<mRID>{number}</mRID>\n\t\t<auction.type>A01</auction.type>\n"
            f"\t\t<businessType>A62</businessType>\n"
            f'\t\t<in_Domain.mRID codingScheme="A01">{self.area}</in_Domain.mRID>\n'
            f'\t\t<out_Domain.mRID codingScheme="A01">{self.area}</out_Domain.mRID>\n'
            f"\t\t<contract_MarketAgreement.type>A01</contract_MarketAgreement.type>\n"
            f"{sequence_line}"
            f"\t\t<currency_Unit.name>EUR</currency_Unit.name>\n\t\t<price_Measure_Unit.name>MWH</price_Measure_Unit.name>\n"
            f"\t\t<curveType>{self.curve_type}</curveType>\n\t\t<Period>\n\t\t\t<timeInterval>\n"
            f"\t\t\t\t<start>{_utc_minutes(start)}</start>\n\t\t\t\t<end>{_utc_minutes(end)}</end>\n"
            f"\t\t\t</timeInterval>\n\t\t\t<resolution>PT{market_day.resolution_min}M</resolution>\n"
            + "".join(points)
            + "\t\t</Period>\n\t</TimeSeries>\n"
        )


@dataclass
class NordPoolArea:
    """A delivery area's days on the Nord Pool stand-in."""

    days: dict[date, MarketDay] = field(default_factory=dict)


class NordPoolStandIn(StandIn):
    """`GET /api/DayAheadPrices?date=&market=DayAhead&deliveryArea=&currency=` as the Data Portal answers it."""

    def __init__(
        self,
        clock: Clock,
        *,
        exchange_rates: dict[str, float] | None = None,
        publish_at: time = time(13, 0),
        port: int = 0,
    ) -> None:
        super().__init__(clock, port)
        self.exchange_rates = exchange_rates or {"EUR": 1.0}
        """Currencies served, as the number of units per EUR."""
        self.publish_at = publish_at
        self.areas: dict[str, NordPoolArea] = {}
        self._app.router.add_get("/api/DayAheadPrices", self._answer)

    @property
    def api_url(self) -> str:
        """The `base_url` to configure."""
        return f"{self.url}/api"

    def add_day(self, area: str, day: date, prices_eur_mwh: Sequence[float]) -> MarketDay:
        """Set a delivery day's prices in EUR/MWh for `area`."""
        market_day = MarketDay.of(day, prices_eur_mwh)
        self.areas.setdefault(area, NordPoolArea()).days[day] = market_day
        return market_day

    async def _answer(self, request: web.Request) -> web.Response:
        failure = await self._before(request)
        if failure is not None:
            return failure
        query = request.query
        areas = [a for a in query.get("deliveryArea", "").split(",") if a]
        currency = query.get("currency", "")
        if query.get("market") != "DayAhead" or not areas or any(a not in self.areas for a in areas):
            return web.json_response({"error": "Invalid deliveryArea or market"}, status=400)
        if currency not in self.exchange_rates:
            return web.json_response({"error": f"Invalid currency {currency}"}, status=400)
        try:
            day = date.fromisoformat(query.get("date", ""))
        except ValueError:
            return web.json_response({"error": "Invalid date"}, status=400)
        present = [self.areas[a].days.get(day) for a in areas]
        if any(d is None for d in present) or not self.published(day, self.publish_at):
            return web.Response(status=204)
        return web.json_response(self.answer(day, areas, currency))

    def answer(self, day: date, areas: list[str], currency: str) -> dict[str, Any]:
        """The DayAheadPrices JSON for published `day` and `areas`."""
        rate = self.exchange_rates[currency]
        by_area = {area: self.areas[area].days[day] for area in areas}
        first = by_area[areas[0]]
        entries = [
            {
                "deliveryStart": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "deliveryEnd": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "entryPerArea": {area: round(by_area[area].prices_eur_mwh[i] * rate, 2) for area in areas},
            }
            for i, (start, end, _) in enumerate(first.slots())
        ]
        release = datetime.combine(day - timedelta(days=1), self.publish_at, MARKET_ZONE).astimezone(UTC)
        return {
            "deliveryDateCET": day.isoformat(),
            "version": 2,
            "updatedAt": release.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "deliveryAreas": areas,
            "market": "DayAhead",
            "multiAreaEntries": entries,
            "blockPriceAggregates": [],
            "currency": currency,
            "exchangeRate": rate,
            "areaStates": [{"state": "Final", "areas": areas}],
            "areaAverages": [
                {"areaCode": a, "price": round(sum(by_area[a].prices_eur_mwh) / len(entries) * rate, 2)} for a in areas
            ],
        }


async def _serve(kind: str, port: int, area: str) -> None:
    clock = SystemClock()
    today = clock.now().astimezone(MARKET_ZONE).date()
    days = [today, today + timedelta(days=1)]
    server: StandIn
    if kind == "entsoe":
        entsoe = EntsoeStandIn(clock, area=area or NL, port=port, publish_at=time(0, 0))
        for day in days:
            entsoe.add_day(day, sample_prices_eur_mwh(day))
        server = entsoe
        snippet = f"prices: {{source: entsoe, token: {entsoe.token}, area: {entsoe.area}, base_url: {{url}}/api}}"
    else:
        nordpool = NordPoolStandIn(clock, port=port, publish_at=time(0, 0))
        for day in days:
            nordpool.add_day(area or "SE3", day, sample_prices_eur_mwh(day))
        server = nordpool
        snippet = f"prices: {{source: nordpool, area: {area or 'SE3'}, base_url: {{url}}/api}}"
    async with server:
        print(f"{kind} stand-in on {server.url}; in the config:\n  " + snippet.replace("{url}", server.url), flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    """Serve a stand-in with sample prices for today and tomorrow until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("kind", choices=["entsoe", "nordpool"])
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--area", default="", help="EIC code (entsoe) or delivery area (nordpool)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.kind, args.port, args.area))


if __name__ == "__main__":
    main()
