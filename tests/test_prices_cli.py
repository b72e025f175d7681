"""`energy-agent prices --config FILE [--json]`, run as a user runs it (the installed script, a real process),
against the ENTSO-E and Nord Pool stand-ins, a price file and an MQTT topic on a real broker; and
`energy-agent plan --config FILE --prices FILE`, which plans on the config's all-in prices."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import pytest
import yaml

from energy_agent.api.clock import SystemClock
from energy_agent.prices.all_in import AllInPrice
from energy_agent.testing.broker import free_port
from energy_agent.testing.mosquitto import Mosquitto
from energy_agent.testing.price_servers import (
    MARKET_ZONE,
    EntsoeStandIn,
    NordPoolStandIn,
    day_bounds,
    sample_prices_eur_mwh,
)

AMS = ZoneInfo("Europe/Amsterdam")
SCRIPT = Path(sys.executable).parent / "energy-agent"
FORMULA = {"price_multiplier": 1.21, "price_adder_eur_kwh": 0.1}


@dataclass
class Run:
    code: int
    out: str
    err: str


async def energy_agent_prices(config: dict[str, Any], tmp_path: Path, *args: str, command: str = "prices") -> Run:
    """Run `energy-agent COMMAND --config FILE ARGS` and collect what it prints."""
    path = tmp_path / "energy-agent.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGY_AGENT_")}
    process = await asyncio.create_subprocess_exec(
        str(SCRIPT), command, "--config", str(path), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


def market_days() -> list[date]:
    today = SystemClock().now().astimezone(MARKET_ZONE).date()
    return [today, today + timedelta(days=1)]


def expected_json(prices_by_day: dict[date, list[float]], formula: AllInPrice) -> list[dict[str, Any]]:
    """What the command must print: every quarter hour of the days, in Amsterdam time, at all-in prices with the
    spot price each was made from."""
    rows = []
    for day, prices in prices_by_day.items():
        start = day_bounds(day)[0]
        for i, price in enumerate(prices):
            begin = start + i * timedelta(minutes=15)
            rows.append(
                {
                    "start": begin.astimezone(AMS).isoformat(),
                    "end": (begin + timedelta(minutes=15)).astimezone(AMS).isoformat(),
                    "price": formula.price_eur_kwh(price / 1000),
                    "spot_price": price / 1000,
                }
            )
    return rows


@pytest.fixture
async def entsoe() -> AsyncIterator[EntsoeStandIn]:
    # tomorrow is out from midnight here, so the output does not depend on the hour the test runs
    async with EntsoeStandIn(SystemClock(), publish_at=time(0, 0)) as server:
        for day in market_days():
            server.add_day(day, sample_prices_eur_mwh(day, negative_midday=True))
        yield server


def entsoe_config(server: EntsoeStandIn, **keys: Any) -> dict[str, Any]:
    prices = {"source": "entsoe", "token": server.token, "area": "NL", "base_url": server.api_url, **FORMULA} | keys
    return {"timezone": "Europe/Amsterdam", "prices": prices}


async def test_json_prints_today_and_tomorrow_at_all_in_prices(entsoe: EntsoeStandIn, tmp_path: Path) -> None:
    run = await energy_agent_prices(entsoe_config(entsoe), tmp_path, "--json")
    assert (run.code, run.err) == (0, "")
    printed = json.loads(run.out)
    prices = {day: list(d.prices_eur_mwh) for day, d in sorted(entsoe.days.items())}
    assert printed == expected_json(prices, AllInPrice(1.21, 0.1))
    assert len(printed) in (92 + 96, 96 + 96, 100 + 96, 96 + 92, 96 + 100)
    assert any(row["price"] < 0.1 for row in printed), "negative spot prices come out under the adder"


async def test_the_table_shows_the_formula_and_both_prices(entsoe: EntsoeStandIn, tmp_path: Path) -> None:
    run = await energy_agent_prices(entsoe_config(entsoe), tmp_path)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == "source: entsoe; price = spot × 1.21 + 0.1 EUR/kWh"
    first_day = min(entsoe.days)
    start = day_bounds(first_day)[0].astimezone(AMS)
    count = sum(len(d.prices_eur_mwh) for d in entsoe.days.values())
    assert lines[1].startswith(f"{count} slots from {start.isoformat()} to ")
    assert lines[1].endswith("(Europe/Amsterdam), prices in EUR/kWh")
    assert len(lines) == 3 + count
    assert lines[2].split() == ["start", "end", "price", "spot"]
    spot = entsoe.days[first_day].prices_eur_mwh[0] / 1000
    assert lines[3].split() == [
        start.isoformat(),
        (start + timedelta(minutes=15)).isoformat(),
        f"{AllInPrice(1.21, 0.1).price_eur_kwh(spot):.6f}",
        f"{spot:.6f}",
    ]


async def test_a_refused_token_is_a_clear_error_and_exit_1(entsoe: EntsoeStandIn, tmp_path: Path) -> None:
    run = await energy_agent_prices(entsoe_config(entsoe, token="wrong-9f8e7d"), tmp_path, "--json")
    assert run.code == 1
    assert run.out == ""
    assert run.err == (
        "error: entsoe: ENTSO-E 10YNL----------L: the security token was refused "
        f"(HTTP 401 at {entsoe.api_url}); check prices.token\n"
    )
    assert "wrong-9f8e7d" not in run.err


async def test_an_unreachable_service_and_a_missing_section_are_clear_errors(tmp_path: Path) -> None:
    port = free_port()
    config = {"prices": {"source": "nordpool", "area": "SE3", "base_url": f"http://127.0.0.1:{port}/api"}}
    run = await energy_agent_prices(config, tmp_path)
    assert run.code == 1
    assert run.err.startswith(
        f"error: nordpool: Nord Pool SE3: cannot reach http://127.0.0.1:{port}/api/DayAheadPrices: "
    )

    run = await energy_agent_prices({"timezone": "Europe/Amsterdam"}, tmp_path)
    assert run.code == 2
    assert run.err == "error: the config has no prices: section; nothing to fetch (see docs/prices.md)\n"

    run = await energy_agent_prices({"prices": {"source": "entsoe", "area": "NL"}}, tmp_path)
    assert run.code == 2
    assert run.err == "error: prices.token: Field required\n"


async def test_nordpool_and_a_timeout(tmp_path: Path) -> None:
    async with NordPoolStandIn(SystemClock(), publish_at=time(0, 0)) as nordpool:
        prices = {}
        for day in market_days():
            prices[day] = sample_prices_eur_mwh(day, seed=3)
            nordpool.add_day("SE3", day, prices[day])
        config = {
            "timezone": "Europe/Stockholm",
            "prices": {"source": "nordpool", "area": "SE3", "base_url": nordpool.api_url},
        }
        run = await energy_agent_prices(config, tmp_path, "--json")
        assert run.code == 0, run.err
        printed = json.loads(run.out)
        assert [row["price"] for row in printed] == [round(p, 2) / 1000 for day in market_days() for p in prices[day]]
        assert (
            printed[0]["start"] == day_bounds(market_days()[0])[0].astimezone(ZoneInfo("Europe/Stockholm")).isoformat()
        )

        nordpool.delay_s = 3.0
        run = await energy_agent_prices(config, tmp_path, "--timeout", "0.5")
        assert run.code == 1
        assert run.err == "error: nordpool: no prices within 0.5 s\n"


async def test_a_price_file_is_read_and_the_formula_applied(tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps([{"start": "2026-11-25T00:00:00+01:00", "end": "2026-11-25T01:00:00+01:00", "price": 0.08}])
    )
    config = {
        "timezone": "Europe/Amsterdam",
        "prices": {"source": "file", "path": str(prices), "price_adder_eur_kwh": 0.15},
    }
    run = await energy_agent_prices(config, tmp_path, "--json")
    assert run.code == 0, run.err
    assert json.loads(run.out) == [
        {"start": "2026-11-25T00:00:00+01:00", "end": "2026-11-25T01:00:00+01:00", "price": 0.23, "spot_price": 0.08}
    ]


async def test_an_mqtt_topic_is_read_from_the_broker(broker: Mosquitto, tmp_path: Path) -> None:
    curve = [{"start": "2026-11-25T00:00:00+01:00", "end": "2026-11-25T00:15:00+01:00", "price": 0.2}]
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.publish("energy/prices", json.dumps({"price_curve": curve}), qos=1, retain=True)
    config = {
        "timezone": "Europe/Amsterdam",
        "mqtt": {"host": broker.host, "port": broker.port},
        "prices": {"source": "mqtt", "topic": "energy/prices"},
    }
    run = await energy_agent_prices(config, tmp_path, "--json")
    assert run.code == 0, run.err
    assert json.loads(run.out) == curve


# -- energy-agent plan --config: the all-in prices -------------------------------------------------------------
WORKED_EXAMPLE = {"price_multiplier": 1.21, "price_adder_eur_kwh": 0.153186}
"""docs/prices.md: 21 % VAT, and energy tax with the supplier's margin (0.1266) with their VAT."""


def spot_file(path: Path) -> Path:
    """Three hours at the spot prices of the worked example: 85, 60 and -10 EUR/MWh."""
    hours = [("00", "01", 0.085), ("01", "02", 0.06), ("02", "03", -0.01)]
    path.write_text(
        json.dumps(
            [
                {"start": f"2026-11-25T{a}:00:00+01:00", "end": f"2026-11-25T{b}:00:00+01:00", "price": price}
                for a, b, price in hours
            ]
        )
    )
    return path


async def test_plan_with_a_config_plans_on_its_all_in_prices_and_shows_the_spot_prices(tmp_path: Path) -> None:
    prices = spot_file(tmp_path / "spot.json")
    config = {
        "timezone": "Europe/Amsterdam",
        "standalone": {"price_threshold": 0.25},
        "prices": {"source": "file", "path": str(prices), **WORKED_EXAMPLE},
    }
    args = ("--prices", str(prices), "--now", "2026-11-24T23:00:00+01:00")
    run = await energy_agent_prices(config, tmp_path, *args, "--json", command="plan")
    assert run.code == 0, run.err
    [day] = json.loads(run.out)["days"]
    assert [(s["price"], s["spot_price"], s["status"]) for s in day["slots"]] == [
        (0.256036, 0.085, "above_threshold"),  # cheap at spot, above the cap at what is paid
        (0.225786, 0.06, "selected"),
        (0.141086, -0.01, "selected"),
    ]
    assert [(p["start"], p["end"]) for p in day["periods"]] == [
        ("2026-11-25T01:00:00+01:00", "2026-11-25T03:00:00+01:00")
    ]
    # the table says the formula and shows both prices
    run = await energy_agent_prices(config, tmp_path, *args, command="plan")
    assert run.code == 0, run.err
    assert "price = spot × 1.21 + 0.153186 EUR/kWh" in run.out
    header = next(line for line in run.out.splitlines() if "EUR/kWh" in line and "status" in line)
    assert [cell.strip() for cell in header.split("┃")[1:5]] == ["time", "EUR/kWh", "spot", "status"], header
    row = next(line for line in run.out.splitlines() if "00:00–01:00" in line)
    assert [cell.strip() for cell in row.split("│")[1:5]] == ["00:00–01:00", "0.256036", "0.0850", "above_threshold"]


async def test_the_json_of_prices_plans_the_same_with_the_same_config(tmp_path: Path) -> None:
    """`energy-agent prices --json` writes all-in prices with their spot prices: a plan on that file with the same
    config applies the formula once, not twice."""
    config = {
        "timezone": "Europe/Amsterdam",
        "prices": {"source": "file", "path": str(spot_file(tmp_path / "spot.json")), **WORKED_EXAMPLE},
    }
    run = await energy_agent_prices(config, tmp_path, "--json")
    assert run.code == 0, run.err
    all_in = tmp_path / "all-in.json"
    all_in.write_text(run.out)
    args = ("--prices", str(all_in), "--now", "2026-11-24T23:00:00+01:00", "--json")
    run = await energy_agent_prices(config, tmp_path, *args, command="plan")
    assert run.code == 0, run.err
    [day] = json.loads(run.out)["days"]
    assert [s["price"] for s in day["slots"]] == [0.256036, 0.225786, 0.141086]
