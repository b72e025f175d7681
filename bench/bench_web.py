"""One load of the owner's web page: bytes transferred and time to the first chart, in a real browser.

One agent in this process (as `energy-agent run` builds it, every installed plugin) in standalone mode with one
Charge Amps connector on the simulator and two days of quarter-hour prices (192 slots: the chart has 192 bars), its
page on a free loopback port. Headless Chromium (Debian's package, driven by Playwright; `CHROMIUM=/path` names
another) loads the page in a fresh context each time (nothing cached), over loopback:

- bytes: what went over the wire for the page, its script and style sheet, `api/status` and `api/plan`
  (headers and bodies, compressed as the browser asked); the live feed then sends nothing until something changes
  (the page names the ETags it holds), and the size of each event it sends after that is given too;
- time to the first chart: the first contentful paint (the chart is drawn on the server and is in the HTML);
- time to a full page: until the device card, filled by the script from `api/status`, is on screen.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import shutil
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Request, async_playwright

from bench._common import Outcome, agent_document, broker_bench_main, median, unique
from energy_agent.app.compose import build_agent
from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.config import load_settings
from energy_agent.testing.clock import ManualClock
from energy_agent.testing.prices import curve_json, sample_curve
from energy_agent.web.server import WebServer
from energy_agent_chargeamps.simulator import Simulator

AMS = ZoneInfo("Europe/Amsterdam")
DAY = date(2026, 11, 25)
EMAIL = "bench@example.com"
PASSWORD = "bench-password"
CHARGE_POINT = "HALO1"
FIRST_CHART_TARGET_MS = 1000.0
"""A page that shows its chart within a second on loopback leaves room for a phone on Wi-Fi."""


def chromium_path() -> str:
    """Chromium to drive: `CHROMIUM`, else `chromium` on the PATH; SystemExit saying how to install it."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not path:
        raise SystemExit("bench_web needs Chromium: 'sudo apt-get install chromium', or set CHROMIUM=/path")
    return path


async def load_once(browser: Any, url: str) -> dict[str, float]:
    """One cold load; returns bytes and milliseconds."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    finished: list[Request] = []
    page.on("requestfinished", lambda request: finished.append(request))
    await page.goto(url)
    await page.wait_for_function("document.querySelector('.card') !== null", polling="raf")
    full_ms = await page.evaluate("performance.now()")
    paint = await page.evaluate(
        "performance.getEntriesByName('first-contentful-paint').map(e => e.startTime)[0] ?? null"
    )
    sizes = [await request.sizes() for request in finished if "api/events" not in request.url]
    await context.close()
    total = sum(s["responseBodySize"] + s["responseHeadersSize"] + s["requestHeadersSize"] for s in sizes)
    return {"bytes": total, "requests": len(sizes), "first_chart_ms": paint or math.nan, "full_ms": full_ms}


async def measure(port: int, loads: int, workdir: Path) -> dict[str, Any]:
    """Start the agent and the simulator, load the page `loads` times (after one warm-up load)."""
    clock = ManualClock(datetime(2026, 11, 25, 14, 0, tzinfo=AMS))
    sim = Simulator(clock)
    sim.add_account(email=EMAIL, password=PASSWORD, api_key="bench-key")
    sim.add_charge_point(email=EMAIL, product="HALO", charge_point_id=CHARGE_POINT)
    sim.plug_in_car(CHARGE_POINT, connector_id=1, max_current_a=16.0, phases=3)
    await sim.start()
    prices = workdir / "prices.json"
    prices.write_text(json.dumps(curve_json(sample_curve([DAY, DAY + timedelta(days=1)], AMS), AMS)))
    document = agent_document(
        workdir, port, unique("web"), mode="standalone",
        chargeamps={"email": EMAIL, "password": PASSWORD, "base_url": sim.base_url, "charge_point_id": CHARGE_POINT},
        prices={"source": "file", "path": str(prices)},
    )  # fmt: skip
    registry = collect(get_plugin_manager())
    agent = build_agent(load_settings(registry, data=document, environ=False), registry, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        async with asyncio.timeout(30):
            await agent.started.wait()
        server = next(s for s in agent.services if isinstance(s, WebServer))
        assert server.url is not None
        began = time.perf_counter()
        server.plan()
        plan_ms = (time.perf_counter() - began) * 1000
        event_bytes = {name: len(server.feed.encoded(name)) for name in ("status", "plan")}
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium_path())
            await load_once(browser, server.url)  # warm-up: the browser's own start-up is not the page's
            samples = [await load_once(browser, server.url) for _ in range(loads)]
            await browser.close()
    finally:
        stop.set()
        await task
        await sim.stop()
    return {"samples": samples, "plan_document_ms": plan_ms, "event_bytes": event_bytes}


async def main_async(port: int, quick: bool) -> Outcome:
    """Median of 10 cold loads (3 with --quick)."""
    outcome = Outcome("web_page")
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        found = await measure(port, 3 if quick else 10, Path(tmp))
    samples = found["samples"]
    first = median([s["first_chart_ms"] for s in samples])
    outcome.add("page load: bytes transferred", int(median([s["bytes"] for s in samples])), "bytes",
                detail=f"{samples[0]['requests']} requests: page, script, style, api/status, api/plan")  # fmt: skip
    outcome.add("  then a live status event", found["event_bytes"]["status"], "bytes",
                detail="on a change of the agent or a device (an event stream is not compressed)")  # fmt: skip
    outcome.add("  then a live plan event", found["event_bytes"]["plan"], "bytes",
                detail="on a new plan, else at most every quarter hour (the now line)")  # fmt: skip
    outcome.add("time to the first chart", round(first, 1), "ms", f"<= {FIRST_CHART_TARGET_MS:g} ms",
                first <= FIRST_CHART_TARGET_MS, detail="first contentful paint; the chart is in the HTML")  # fmt: skip
    outcome.add("time to the filled page", round(median([s["full_ms"] for s in samples]), 1), "ms",
                detail="until the device card (from api/status) is on screen")  # fmt: skip
    outcome.add("  building api/plan on the server", round(found["plan_document_ms"], 1), "ms",
                detail="192 slots, their reasons and the SVG")  # fmt: skip
    outcome.data = {"loads": len(samples), "samples": samples}
    return outcome


def main() -> None:
    """Start a broker unless --port names one, measure, emit."""
    logging.basicConfig(level=logging.WARNING)
    broker_bench_main(__doc__, main_async)


if __name__ == "__main__":
    main()
