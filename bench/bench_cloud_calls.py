"""Charge Amps cloud API calls per simulated day in standalone mode, from the simulator's request log.

One agent in this process (as `energy-agent run` builds it, every installed plugin) in standalone mode with one
Charge Amps connector (user-app API, the default; `poll_interval_s` left at its default, 60 s) on the simulator, and
a price file. Time is a ManualClock shared by the agent and the simulator, advanced one day in 60 s steps (each
step waits until the requests it caused have been answered). The day: starts at 00:00 local with that day's
quarter-hour prices; at 13:00 the next day's prices are added (the day-ahead auction's publication), which makes
the agent plan again. The simulator's token lifetimes are its defaults (user-app token: 1 h).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import tempfile
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench._common import Outcome, agent_document, broker_bench_main, unique
from energy_agent.app.compose import build_agent
from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.config import load_settings
from energy_agent.testing.clock import ManualClock
from energy_agent_chargeamps.simulator import Simulator

AMS = ZoneInfo("Europe/Amsterdam")
DAY = date(2026, 11, 24)
EMAIL = "bench@example.com"
PASSWORD = "bench-password"
CHARGE_POINT = "HALO1"
STEP_S = 60.0
PUBLICATION = time(13, 0)


def quarter_hours(day: date) -> list[dict[str, Any]]:
    """A day of 15-minute prices with a cheap night."""
    slots = []
    start = datetime.combine(day, time(0), AMS)
    end = datetime.combine(day + timedelta(days=1), time(0), AMS)
    while start < end:
        hour = start.hour + start.minute / 60
        price = round(0.20 + 0.08 * math.sin((hour - 9) / 24 * 2 * math.pi), 4)
        slots.append({"start": start.isoformat(), "end": (start + timedelta(minutes=15)).isoformat(), "price": price})
        start = (start.astimezone(ZoneInfo("UTC")) + timedelta(minutes=15)).astimezone(AMS)
    return slots


async def settle(sim: Simulator, before: int) -> None:
    """Wait (in real time) until the step's requests were answered: none is being answered and none arrived for a
    short look (a step normally causes one status read; `before` is the log length before the step)."""
    seen = before
    async with asyncio.timeout(10):
        while True:
            await asyncio.sleep(0.001 if len(sim.request_log) > seen else 0.003)
            busy = any(entry.status is None for entry in sim.request_log[-5:])
            if len(sim.request_log) == seen and not busy:
                return
            seen = len(sim.request_log)


def kind(route: str) -> str:
    """login, status read, schedule write or other, from a route template."""
    if "/auth/" in route:
        return "login"
    if "smartChargingSchedules" in route:
        return "schedule write" if not route.startswith("GET") else "schedule read"
    if "chargepoints" in route.lower():
        return "status read"
    return "other"


async def simulate_day(port: int, workdir: Path, hours: float = 24, first_hour: int = 0) -> dict[str, Any]:
    """Run the day (or `hours` of it from `first_hour`) and count the requests by route."""
    start = datetime.combine(DAY, time(first_hour), AMS)
    clock = ManualClock(start)
    sim = Simulator(clock)
    sim.add_account(email=EMAIL, password=PASSWORD, api_key="bench-key")
    sim.add_charge_point(email=EMAIL, product="HALO", charge_point_id=CHARGE_POINT)
    sim.plug_in_car(CHARGE_POINT, connector_id=1, max_current_a=16.0, phases=3)
    await sim.start()
    prices = workdir / "prices.json"
    prices.write_text(json.dumps(quarter_hours(DAY)))
    document = agent_document(
        workdir, port, unique("cloud"), mode="standalone",
        chargeamps={"email": EMAIL, "password": PASSWORD, "base_url": sim.base_url, "charge_point_id": CHARGE_POINT},
        prices={"source": "file", "path": str(prices)},
    )  # fmt: skip
    registry = collect(get_plugin_manager())
    settings = load_settings(registry, data=document, environ=False)
    agent = build_agent(settings, registry, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        async with asyncio.timeout(30):
            await agent.started.wait()
        await settle(sim, 0)
        at_start = len(sim.request_log)
        published = False
        steps = int(hours * 3600 / STEP_S)
        for _ in range(steps):
            if not published and clock.now().astimezone(AMS).time() >= PUBLICATION:
                prices.write_text(json.dumps(quarter_hours(DAY) + quarter_hours(DAY + timedelta(days=1))))
                published = True
            before = len(sim.request_log)
            await clock.advance(STEP_S)
            await settle(sim, before)
    finally:
        stop.set()
        await task
        await sim.stop()
    routes = Counter(entry.route for entry in sim.request_log)
    kinds = Counter(kind(entry.route) for entry in sim.request_log)
    return {
        "calls": len(sim.request_log),
        "at_start": at_start,
        "by_route": dict(routes.most_common()),
        "by_kind": dict(kinds),
        "logins": sim.logins(EMAIL),
        "failed": sum(1 for entry in sim.request_log if entry.status != 200),
        "simulated_s": steps * STEP_S,
    }


async def main_async(port: int, quick: bool) -> Outcome:
    """One simulated day; --quick: 10:00 to 16:00 (the 13:00 publication included)."""
    outcome = Outcome("cloud_calls")
    hours = 6 if quick else 24
    with tempfile.TemporaryDirectory(prefix="bench-cloud-") as tmp:
        found = await simulate_day(port, Path(tmp), hours=hours, first_hour=10 if quick else 0)
    span = "per day" if hours == 24 else f"in {hours} h (--quick)"
    outcome.add(f"cloud API calls {span} (standalone, 1 connector)", found["calls"], "calls",
                detail=f"{found['at_start']} at start; {found['failed']} failed")  # fmt: skip
    kinds = found["by_kind"]
    outcome.add("  of which status reads", kinds.get("status read", 0), "calls",
                detail=f"poll interval 60 s = {hours * 60} polls")  # fmt: skip
    outcome.add("  of which schedule writes", kinds.get("schedule write", 0), "calls",
                detail="first plan + the next day's prices at 13:00")  # fmt: skip
    outcome.add("  of which logins", kinds.get("login", 0), "calls", detail="simulator token lifetime 1 h")
    other = sum(n for k, n in kinds.items() if k not in ("status read", "schedule write", "login"))
    if other:
        outcome.add("  of which other", other, "calls")
    outcome.data = found
    return outcome


def main() -> None:
    """Start a broker unless --port names one, measure, emit."""
    logging.basicConfig(level=logging.WARNING)
    broker_bench_main(__doc__, main_async)


if __name__ == "__main__":
    main()
