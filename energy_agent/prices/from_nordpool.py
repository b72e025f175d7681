"""`prices.source: nordpool`: day-ahead prices from the Nord Pool Data Portal API.

`GET {base_url}/DayAheadPrices?date=YYYY-MM-DD&market=DayAhead&deliveryArea=SE3&currency=EUR` answers
one delivery day (CET): `multiAreaEntries`, each with `deliveryStart`/`deliveryEnd` in UTC and
`entryPerArea` holding the price per MWh by area. HTTP 204 (no body) means the day is not published yet.
`parse_nordpool_day` validates an answer into spot slots (per kWh, in the requested currency).
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo

import aiohttp
from pydantic import ConfigDict, field_validator

from energy_agent.api.clock import Clock
from energy_agent.api.domain import PriceSlot
from energy_agent.api.prices import MAX_PRICE_SLOTS
from energy_agent.prices.day_ahead import (
    DayAheadConfig,
    DayAheadPoller,
    MarketWindow,
    NoPricesYet,
    PriceFetchError,
    check_overlaps,
    fail,
    http_get,
    poll_settings,
    price_per_kwh,
    transient_status,
    utc_time,
)

NORDPOOL_URL = "https://dataportal-api.nordpoolgroup.com/api"
"""The Data Portal's API."""
ANSWER = "Nord Pool answer"
AREA_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{1,5}$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")


class NordPoolPricesConfig(DayAheadConfig):
    """`prices:` for `source: nordpool`: day-ahead prices of one delivery area from the Nord Pool Data Portal."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["nordpool"]
    area: str
    """Delivery area as Nord Pool names it: `SE3`, `NO1`, `DK1`, `FI`, `NL`, `BE`, `FR`, `GER`, `AT`, ..."""
    currency: str = "EUR"
    """Currency of the prices. With another than EUR, every price (cap, adder) is in that currency per kWh."""
    base_url: str = NORDPOOL_URL
    """The Data Portal API's URL."""

    @field_validator("area")
    @classmethod
    def _area(cls, value: str) -> str:
        area = value.strip().upper()
        if not AREA_PATTERN.match(area):
            raise ValueError(f"{value!r} is not a Nord Pool delivery area (like SE3, NO1, DK1, FI, NL, GER)")
        return area

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        currency = value.strip().upper()
        if not CURRENCY_PATTERN.match(currency):
            raise ValueError(f"{value!r} is not a currency code (like EUR, SEK, NOK, DKK)")
        return currency


def parse_nordpool_day(data: object, *, area: str, currency: str, day: date | None = None) -> list[PriceSlot]:
    """The spot slots (per kWh) of one DayAheadPrices answer, sorted.

    NoPricesYet when the answer has no entries; PriceFetchError naming each fault and where otherwise, e.g.
    `Nord Pool answer: multiAreaEntries[3].entryPerArea: SE3 'x' is not a number`. With `day`, an answer
    for another delivery day is an error.
    """
    if not isinstance(data, dict):
        raise PriceFetchError(f"{ANSWER}: expected a JSON object, got {type(data).__name__}")
    problems: list[str] = []
    if data.get("currency") not in (None, currency):
        problems.append(f"currency: {data['currency']!r}, but {currency!r} was asked for")
    if day is not None and data.get("deliveryDateCET") not in (None, day.isoformat()):
        problems.append(f"deliveryDateCET: {data['deliveryDateCET']!r}, but {day.isoformat()} was asked for")
    areas = data.get("deliveryAreas")
    if isinstance(areas, list) and area not in areas:
        problems.append(f"deliveryAreas: {areas!r} does not include {area!r}")
    entries = data.get("multiAreaEntries")
    if entries is None:
        problems.append("multiAreaEntries: missing")
    elif not isinstance(entries, list):
        problems.append(f"multiAreaEntries: expected a list, got {type(entries).__name__}")
    elif len(entries) > MAX_PRICE_SLOTS:
        problems.append(f"multiAreaEntries: {len(entries)} entries, more than {MAX_PRICE_SLOTS}")
    if problems or not isinstance(entries, list):
        raise fail(ANSWER, problems)
    if not entries:
        raise NoPricesYet(f"{ANSWER}: no entries for {area}" + (f" on {day.isoformat()}" if day else ""))
    slots = [_entry(entry, f"multiAreaEntries[{index}]", area, problems) for index, entry in enumerate(entries)]
    found = [(f"multiAreaEntries[{index}]", slot) for index, slot in enumerate(slots) if slot is not None]
    check_overlaps(found, problems)
    if problems:
        raise fail(ANSWER, problems)
    return sorted((slot for _, slot in found), key=lambda slot: slot.start)


def _entry(entry: Any, where: str, area: str, problems: list[str]) -> PriceSlot | None:
    if not isinstance(entry, dict):
        problems.append(f"{where}: expected an object, got {type(entry).__name__}")
        return None
    start = utc_time(entry.get("deliveryStart"), f"{where}.deliveryStart", problems)
    end = utc_time(entry.get("deliveryEnd"), f"{where}.deliveryEnd", problems)
    per_area = entry.get("entryPerArea")
    price: float | None = None
    if not isinstance(per_area, dict):
        problems.append(f"{where}.entryPerArea: expected an object of prices by area")
    elif area not in per_area:
        problems.append(f"{where}.entryPerArea: no price for {area}")
    else:
        price = price_per_kwh(per_area[area], f"{where}.entryPerArea", area, problems)
    if start is None or end is None or price is None:
        return None
    if not start < end:
        problems.append(f"{where}.deliveryEnd: not after deliveryStart")
        return None
    return PriceSlot(start, end, price)


class NordPoolFetcher:
    """Asks the Data Portal for each delivery day of a window."""

    source = "nordpool"

    def __init__(self, config: NordPoolPricesConfig) -> None:
        self._config = config

    @property
    def label(self) -> str:
        """`Nord Pool <area>`."""
        return f"Nord Pool {self._config.area}"

    async def fetch(self, session: aiohttp.ClientSession, window: MarketWindow) -> list[PriceSlot]:
        """The window's spot slots: days not published yet are left out, except today (NoPricesYet)."""
        slots: list[PriceSlot] = []
        for day in window.days:
            try:
                slots.extend(await self.fetch_day(session, day))
            except NoPricesYet:
                if day == window.today:
                    raise
        return slots

    async def fetch_day(self, session: aiohttp.ClientSession, day: date) -> list[PriceSlot]:
        """One delivery day's spot slots; NoPricesYet when it is not published."""
        config = self._config
        url = f"{config.base_url}/DayAheadPrices"
        params = {
            "date": day.isoformat(),
            "market": "DayAhead",
            "deliveryArea": config.area,
            "currency": config.currency,
        }
        answer = await http_get(session, url, params, label=self.label, timeout_s=config.timeout_s)
        where = f"{self.label} {day.isoformat()}"
        if answer.status == 204 or (answer.status == 200 and not answer.body.strip()):
            raise NoPricesYet(f"{where}: not published yet (HTTP {answer.status} at {url})")
        if answer.status in (401, 403):
            raise PriceFetchError(f"{where}: access refused (HTTP {answer.status} at {url})")
        transient = transient_status(answer, self.label, url)
        if transient is not None:
            raise transient
        if answer.status != 200:
            raise PriceFetchError(
                f"{where}: HTTP {answer.status} at {url} (check prices.area and prices.currency): {answer.snippet()}"
            )
        try:
            data = json.loads(answer.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PriceFetchError(f"{where}: {ANSWER}: not JSON ({exc})") from None
        try:
            return parse_nordpool_day(data, area=config.area, currency=config.currency, day=day)
        except PriceFetchError as exc:
            raise type(exc)(f"{where}: {exc}") from None


def nordpool_source(config: NordPoolPricesConfig, clock: Clock, zone: ZoneInfo) -> DayAheadPoller:
    """The polling source for `config`."""
    return DayAheadPoller(NordPoolFetcher(config), clock, zone, **poll_settings(config))
