"""Standalone mode on ENTSO-E prices, end to end: the agent polls an ENTSO-E stand-in, applies the all-in formula,
plans under the cap and writes exactly that plan to the simulated Charge Amps charger; tomorrow's prices,
published at 13:00, reach the charger the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from energy_agent.api.domain import PriceCurve, PriceSlot
from energy_agent.prices.all_in import AllInPrice
from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.price_servers import EntsoeStandIn, MarketDay, sample_prices_eur_mwh
from energy_agent.testing.recorder import Recorder
from tests.test_standalone_e2e import planned, written_charging
from tests.world import AMS, PUT_ROUTE, World, eventually, world

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=AMS)
TODAY, TOMORROW = date(2026, 11, 25), date(2026, 11, 26)
FORMULA = AllInPrice(multiplier=1.21, adder_eur_kwh=0.1)


def all_in_curve(days: list[MarketDay]) -> PriceCurve:
    """What the agent must plan on: the stand-in's spot prices per kWh, through the formula."""
    slots = [PriceSlot(start, end, price / 1000) for day in days for start, end, price in day.slots()]
    return FORMULA.apply(PriceCurve(tuple(slots)))


@pytest.fixture
async def agent_on_entsoe(
    broker: Broker, recorder: Recorder, tmp_path: Path
) -> AsyncIterator[tuple[World, EntsoeStandIn]]:
    async with world(broker, recorder, tmp_path, NOW) as w, EntsoeStandIn(w.clock) as entsoe:
        for day in (TODAY, TOMORROW):
            # cheap nights and, from 11:00 to 15:00, negative prices: the plan has periods after 08:00
            entsoe.add_day(day, sample_prices_eur_mwh(day, negative_midday=True))
        prices = {"source": "entsoe", "token": entsoe.token, "area": "NL", "base_url": entsoe.api_url}
        prices |= {"price_multiplier": FORMULA.multiplier, "price_adder_eur_kwh": FORMULA.adder_eur_kwh}
        await w.start_agent(operation_mode="standalone", prices=prices)
        yield w, entsoe


def expected_charging(curve: PriceCurve, now: datetime) -> list[tuple[datetime, datetime]]:
    return [(max(p.start, now), p.end) for p in planned(curve, now, 0.25, 16)]


async def test_the_charger_gets_the_plan_on_all_in_prices_today_and_tomorrow_from_13_00(
    agent_on_entsoe: tuple[World, EntsoeStandIn],
) -> None:
    w, entsoe = agent_on_entsoe
    agent = w.agent
    assert agent is not None
    await eventually(lambda: len(w.writes(PUT_ROUTE)) == 1)

    today = all_in_curve([entsoe.days[TODAY]])
    body = w.writes(PUT_ROUTE)[0]
    assert written_charging(body, NOW, NOW + timedelta(days=3)) == expected_charging(today, NOW)
    assert body["validTo"] == "2026-11-25T23:00:00Z", "the charger stops following the plan where the prices end"
    # the cap (0.25 EUR/kWh) cut the day: some slots are under it only as spot prices
    assert any(s.spot_eur_kwh is not None and s.spot_eur_kwh <= 0.25 < s.price_eur_kwh for s in today.slots)
    assert agent.board.curve == today
    explanation = next(iter(agent.planner.last_plans.values())).explanation
    first = explanation["days"][0]["slots"][0]
    assert (first["price"], first["spot_price"]) == (today.slots[0].price_eur_kwh, today.slots[0].spot_eur_kwh)
    health = agent.board.health
    assert (health.source, health.ok, health.covers_until) == ("entsoe", True, today.end)

    at_13 = datetime(2026, 11, 25, 13, 0, tzinfo=AMS)
    await w.advance((at_13 - NOW).total_seconds(), step_s=300)
    await eventually(lambda: len(w.writes(PUT_ROUTE)) == 2)

    both = all_in_curve([entsoe.days[TODAY], entsoe.days[TOMORROW]])
    body = w.writes(PUT_ROUTE)[1]
    assert written_charging(body, at_13, at_13 + timedelta(days=3)) == expected_charging(both, at_13)
    assert body["validTo"] == "2026-11-26T23:00:00Z"
    assert agent.board.curve == both
    polls = [r.at for r in entsoe.requests]
    assert polls == [NOW + timedelta(hours=n) for n in range(6)], "hourly from the start; tomorrow found at 13:00"
    assert all(r.query["securityToken"] == entsoe.token for r in entsoe.requests)
    w.check_contracts()
