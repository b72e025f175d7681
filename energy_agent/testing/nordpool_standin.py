"""A stand-in for the Nord Pool Data Portal's day-ahead prices API, on loopback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from energy_agent.api.clock import Clock
from energy_agent.testing.stand_in import MARKET_ZONE, MarketDay, StandIn


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
