"""What the price stand-ins share: market days, sample prices, the HTTP stand-in base, a stepping clock."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Self
from zoneinfo import ZoneInfo

from aiohttp import web

from energy_agent.api.clock import Clock
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


def xml_number(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def utc_minutes(moment: datetime) -> str:
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
