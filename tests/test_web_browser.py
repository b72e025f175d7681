"""The web page in a real browser (headless Chromium) against a running agent, the Charge Amps simulator and a real
Mosquitto: the chart shows the plan, a device card follows the car, and a control goes through the agent to MQTT.

The screenshots in docs/ (web-desktop.png, web-phone.png) are taken here. One browser serves the whole module.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import recording
from energy_agent.web.chart_svg import span_text
from energy_agent.web.server import WebServer
from tests.browser import chromium
from tests.world import AMS, World, hems_schedule, world

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLE_PRICES = Path(__file__).parent.parent / "examples" / "prices.json"
DOCS = Path(__file__).parent.parent / "docs"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
KEY = "charge-amps/1"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as instance:
        yield instance


@asynccontextmanager
async def start(broker: Broker, tmp_path: Path, now: datetime) -> AsyncIterator[tuple[World, str]]:
    """A standalone agent on the example prices with its page on a free loopback port; yields it and the page URL."""
    shutil.copy(EXAMPLE_PRICES, tmp_path / "prices.json")
    async with recording(broker.host, broker.port) as recorder, world(broker, recorder, tmp_path, now) as w:
        agent = await w.start_agent(
            operation_mode="standalone",
            prices={"source": "file", "path": str(tmp_path / "prices.json")},
            web={"port": 0},
        )
        server = next(service for service in agent.services if isinstance(service, WebServer))
        assert server.url is not None
        yield w, server.url


async def open_page(browser: Browser, url: str, viewport: dict[str, int]) -> tuple[Page, list[str]]:
    """The page, loaded and filled from the API; the browser's console errors (a CSP violation is one) collect in
    the list."""
    context = await browser.new_context(viewport=viewport, color_scheme="light", device_scale_factor=1)  # type: ignore[arg-type]
    page = await context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    await page.goto(url)
    await expect(page.locator(".card")).to_have_count(1)
    await expect(page.locator("#live")).to_have_text("live")
    return page, errors


async def test_the_chart_shows_the_plan_and_a_card_follows_the_car(
    browser: Browser, broker: Broker, tmp_path: Path
) -> None:
    async with start(broker, tmp_path, datetime(2026, 11, 25, 23, 30, tzinfo=AMS)) as (w, url):
        assert w.agent is not None
        plan = w.agent.view.plan(KEY)
        assert plan is not None and len(plan.periods) == 3
        page, errors = await open_page(browser, url, DESKTOP)

        periods = page.locator("svg.chart rect.period title")
        assert await periods.all_text_contents() == [f"charging {span_text(p.start, p.end, AMS)}" for p in plan.periods]
        selected = sum(slot["status"] == "selected" for day in plan.explanation["days"] for slot in day["slots"])
        await expect(page.locator("svg.chart rect.bar.selected")).to_have_count(selected)
        await expect(page.locator("svg.chart line.cap")).to_have_count(1)
        await page.locator("svg.chart rect.bar.above_threshold").first.click()
        await expect(page.locator("#why")).to_contain_text("not chosen: above the cap of 0.25 EUR/kWh")

        card = page.locator(f'.card[data-device="{KEY}"]')
        await w.advance(90, step_s=30)  # the next status read: the car waits for the plan (it charged on plugging in)
        await expect(card.locator(".state")).to_have_text("plugged_in")
        await expect(card.locator("dd.power")).to_have_text("0.00 kW")
        await w.advance(30 * 60, step_s=30)  # the plan's next period starts at midnight: the car starts charging
        assert w.agent.view.devices()[0].status["state"] == "charging"
        await expect(card.locator(".state")).to_have_text("charging")
        await expect(card.locator("dd.power")).not_to_have_text("0.00 kW")
        await expect(card.locator("dd.source")).to_have_text("standalone (running now)")

        await page.screenshot(path=DOCS / "web-desktop.png", full_page=True)
        phone, phone_errors = await open_page(browser, url, PHONE)
        await phone.screenshot(path=DOCS / "web-phone.png", full_page=True)
        assert errors == phone_errors == []
        await page.context.close()
        await phone.context.close()


async def test_a_control_reaches_the_agent_and_mqtt_and_commands_show_with_their_answers(
    browser: Browser, broker: Broker, tmp_path: Path
) -> None:
    now = datetime(2026, 11, 25, 8, 0, tzinfo=AMS)
    async with start(broker, tmp_path, now) as (w, url):
        assert w.agent is not None
        page, errors = await open_page(browser, url, DESKTOP)
        cap = page.locator('form[data-group="cap"]')
        await expect(cap.locator("input")).to_have_value("0.25")

        await cap.locator("input").fill("0.2")
        await cap.locator("button").click()
        await expect(cap.locator("output")).to_have_text("done: price_threshold = 0.2")
        assert w.agent.view.standalone.price_threshold == 0.2
        await w.recorder.wait_for("hems/agent/settings", lambda p: json.loads(p)["price_threshold"] == 0.2)
        await expect(page.locator("svg.chart line.cap title")).to_have_text("cap 0.2000 EUR/kWh")

        levels = page.locator('form[data-group="levels"]')
        await levels.locator("input").fill("0")
        await levels.locator("button").click()
        await expect(levels.locator("output")).to_contain_text("refused: top_x_charge_count: Input should be greater")
        assert w.agent.view.standalone.top_x_charge_count == 16

        mode = page.locator('form[data-group="mode"]')
        await mode.locator("select").select_option("hems")
        await mode.locator("button").click()
        await expect(mode.locator("output")).to_have_text('done: operation_mode = "hems"')
        await w.recorder.wait_for(f"hems/{KEY}/status", lambda p: json.loads(p)["operation_mode"] == "hems")
        await expect(page.locator("#mode")).to_have_text("hems")

        answer = await w.command(hems_schedule(now, "from-the-hems"))
        assert answer["accepted"] is True
        row = page.locator("#command-rows tr").first
        await expect(row).to_contain_text("from-the-hems")
        await expect(row.locator("td.yes")).to_have_text("accepted")
        await expect(page.locator(f'.card[data-device="{KEY}"] dd.source')).to_have_text("hems")
        assert [error for error in errors if "400 (Bad Request)" not in error] == []  # the refused change is a 400
        await page.context.close()
