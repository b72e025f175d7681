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
from datetime import time, timedelta

from energy_agent.api.clock import SystemClock
from energy_agent.testing.entsoe_standin import EntsoeStandIn
from energy_agent.testing.nordpool_standin import NordPoolArea, NordPoolStandIn
from energy_agent.testing.stand_in import (
    ACK_NAMESPACE,
    ENTSOE_NAMESPACE,
    EXAA_PREMIUM_EUR_MWH,
    MARKET_ZONE,
    NL,
    UNAUTHORIZED_PAGE,
    Answer,
    MarketDay,
    Request,
    StandIn,
    SteppingClock,
    day_bounds,
    sample_prices_eur_mwh,
)


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


__all__ = [
    "ACK_NAMESPACE",
    "ENTSOE_NAMESPACE",
    "EXAA_PREMIUM_EUR_MWH",
    "MARKET_ZONE",
    "NL",
    "UNAUTHORIZED_PAGE",
    "Answer",
    "EntsoeStandIn",
    "MarketDay",
    "NordPoolArea",
    "NordPoolStandIn",
    "Request",
    "StandIn",
    "SteppingClock",
    "day_bounds",
    "sample_prices_eur_mwh",
]
