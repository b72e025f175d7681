"""The web page's server over real HTTP: the JSON API, the password, same-origin changes, the CSP, ingress, the
live feed, and no secret in any answer. The browser's view of the page is in test_web_browser.py."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request

from energy_agent.api.errors import ConfigError
from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.config import WebSettings, load_settings
from energy_agent.runtime.agent import Agent
from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder
from energy_agent.web.auth import INGRESS_PROXY, Access
from energy_agent.web.server import WebServer
from tests.world import AMS, PASSWORD, World, eventually, world

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=AMS)
EXAMPLE_PRICES = Path(__file__).parent.parent / "examples" / "prices.json"
WEB_PASSWORD = "web-pass-secret"
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
SECRETS = (WEB_PASSWORD, PASSWORD, "api-key-secret")


def basic(user: str, password: str) -> dict[str, str]:
    """The Authorization header of HTTP Basic credentials."""
    return {"Authorization": aiohttp.encode_basic_auth(user, password)}


@pytest.fixture
async def guarded(broker: Broker, recorder: Recorder, tmp_path: Path) -> AsyncIterator[World]:
    """A standalone agent whose page listens on every address (0.0.0.0), so it asks for the password."""
    shutil.copy(EXAMPLE_PRICES, tmp_path / "prices.json")
    async with world(broker, recorder, tmp_path, NOW) as w:
        await w.start_agent(
            operation_mode="standalone",
            prices={"source": "file", "path": str(tmp_path / "prices.json")},
            web={"host": "0.0.0.0", "port": 0, "password": WEB_PASSWORD},
        )
        yield w


def web_server(agent: Agent) -> WebServer:
    return next(service for service in agent.services if isinstance(service, WebServer))


class Client:
    """Requests to one server with the password (unless `anonymous`); every answer is kept for the checks that apply
    to all of them."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.answers: list[tuple[int, dict[str, str], str]] = []

    async def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, anonymous: bool = False, **kwargs: Any
    ) -> tuple[int, dict[str, str], str]:
        sent = {**({} if anonymous else basic("any-name", WEB_PASSWORD)), **(headers or {})}
        async with self.session.request(method, self.base + path, headers=sent, **kwargs) as response:
            answer = (response.status, dict(response.headers), await response.text())
        self.answers.append(answer)
        return answer

    async def change(self, body: Any, *, headers: dict[str, str] = SAME_ORIGIN, **kwargs: Any) -> tuple[int, Any]:
        status, _, text = await self.request("POST", "api/settings", json=body, headers=headers, **kwargs)
        return status, json.loads(text)


@pytest.fixture
async def client(guarded: World) -> AsyncIterator[Client]:
    assert guarded.agent is not None
    port = web_server(guarded.agent).port
    async with aiohttp.ClientSession() as session:
        yield Client(session, f"http://127.0.0.1:{port}/")


async def test_without_the_password_nothing_is_served_and_nothing_changes(guarded: World, client: Client) -> None:
    assert guarded.agent is not None
    for method, path in (("GET", ""), ("GET", "api/status"), ("GET", "api/plan"), ("GET", "api/events"),
                         ("GET", "static/app.js")):  # fmt: skip
        status, headers, _ = await client.request(method, path, anonymous=True)
        assert status == 401, path
        assert headers["WWW-Authenticate"].startswith('Basic realm="energy-agent"')
    status, answer = await client.change({"price_threshold": 0.1}, anonymous=True)
    assert status == 401 and answer["accepted"] is False
    status, _ = await client.change({"price_threshold": 0.1}, headers={**SAME_ORIGIN, **basic("owner", "wrong")})
    assert status == 401
    assert guarded.agent.view.standalone.price_threshold == 0.25


async def test_the_api_answers_and_a_change_goes_through_the_ordered_commands(
    guarded: World, client: Client, recorder: Recorder
) -> None:
    agent = guarded.agent
    assert agent is not None
    await eventually(lambda: agent.view.plan("charge-amps/1") is not None)

    status, headers, page = await client.request("GET", "")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert 'src="static/app.js' in page and "<svg" in page
    for _, _, text in client.answers:
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), "no inline script"
        assert not re.search(r"\son[a-z]+=|\sstyle=", text), "no inline handlers or styles"

    status, _, text = await client.request("GET", "api/status")
    document = json.loads(text)
    assert status == 200 and document["operation_mode"] == "standalone"
    assert document["settings"] == {
        "operation_mode": "standalone", "price_threshold": 0.25, "top_x_charge_count": 16, "paused": False,
        "policy": "unique-price-levels", "ready_by": None, "energy_kwh": None, "target_soc": None,
    }  # fmt: skip
    [device] = document["devices"]
    assert device["key"] == "charge-amps/1" and device["status"]["schedule_source"] == "standalone"
    assert [(p["start"], p["end"]) for p in device["wants"]] == [
        ("2026-11-26T00:00:00+01:00", "2026-11-26T07:00:00+01:00")
    ]

    status, _, text = await client.request("GET", "api/plan")
    [chart] = json.loads(text)["charts"]
    plan = agent.view.plan("charge-amps/1")
    assert plan is not None and chart["source"] == "plan" and chart["cap"] == 0.25
    assert [(p["start"], p["end"]) for p in chart["periods"]] == [
        (p.start.astimezone(AMS).isoformat(), p.end.astimezone(AMS).isoformat()) for p in plan.periods
    ]
    assert len(chart["slots"]) == 192 and chart["svg"].count("<title>") >= 192
    why = {slot["status"]: slot["why"] for slot in chart["slots"]}
    assert why["above_threshold"] == "not chosen: above the cap of 0.25 EUR/kWh"
    assert why["not_in_top_x"] == "not chosen: not among the 16 lowest price levels"
    assert why["selected"].startswith("chosen: price level ")

    status, answer = await client.change({"price_threshold": 0.2})
    assert (status, answer["accepted"], answer["settings"]["price_threshold"]) == (200, True, 0.2)
    assert agent.view.standalone.price_threshold == 0.2
    await recorder.wait_for("hems/agent/settings", lambda p: json.loads(p)["price_threshold"] == 0.2)

    status, answer = await client.change({"price_threshold": 99})
    assert status == 400 and answer["accepted"] is False
    assert "less than or equal to 10" in answer["errors"][0] and answer["settings"]["price_threshold"] == 0.2
    status, answer = await client.change({"top_x_charge_count": 2.5, "colour": "red"})
    assert status == 400 and len(answer["errors"]) == 2
    status, answer = await client.change({"price_threshold": PASSWORD})  # an echo of what was sent
    assert status == 400 and answer["errors"] == ["price_threshold: '***' is not a number"]

    # the ready-by inputs in one form: the plan then has a departure, drawn as a line on the chart
    status, answer = await client.change({"policy": "ready-by", "ready_by": "07:00", "energy_kwh": 20})
    assert (status, answer["settings"]["policy"], answer["settings"]["ready_by"]) == (200, "ready-by", "07:00")
    [chart] = json.loads((await client.request("GET", "api/plan"))[2])["charts"]
    assert chart["ready_by"] == "2026-11-26T07:00:00+01:00" and 'class="departure"' in chart["svg"]
    assert chart["energy"]["needed_kwh"] == 20

    status, answer = await client.change({"operation_mode": "hems"})
    assert (status, answer["settings"]["operation_mode"]) == (200, "hems")
    await recorder.wait_for("hems/charge-amps/1/status", lambda p: json.loads(p)["operation_mode"] == "hems")

    for _, headers, text in client.answers:
        assert "script-src 'self'" in headers["Content-Security-Policy"] and "unsafe" not in text
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert not [secret for secret in SECRETS if secret in text]


async def test_a_change_from_another_site_is_refused(guarded: World, client: Client) -> None:
    assert guarded.agent is not None
    refusals = [
        await client.change({"price_threshold": 0.1}, headers={"Sec-Fetch-Site": "cross-site"}),
        await client.change({"price_threshold": 0.1}, headers={"Origin": "http://evil.example"}),
    ]
    assert [status for status, _ in refusals] == [403, 403]
    assert "not sent by this page" in refusals[0][1]["errors"][0]
    form = {"Content-Type": "application/x-www-form-urlencoded", **SAME_ORIGIN}
    status, _, _ = await client.request("POST", "api/settings", data="price_threshold=0.1", headers=form)
    assert status == 415
    assert guarded.agent.view.standalone.price_threshold == 0.25
    # a client that is no browser (no Origin, no Sec-Fetch-Site) has no session to abuse: it is let through
    status, _ = await client.change({"top_x_charge_count": 8}, headers={})
    assert status == 200 and guarded.agent.view.standalone.top_x_charge_count == 8


async def test_the_live_feed_sends_both_documents_then_each_change(guarded: World, client: Client) -> None:
    async with client.session.get(client.base + "api/events", headers=basic("owner", WEB_PASSWORD)) as feed:
        assert feed.headers["Content-Type"] == "text/event-stream"
        first = [await next_event(feed), await next_event(feed)]
        assert [name for name, _ in first] == ["status", "plan"]
        await client.change({"price_threshold": 0.21})
        name, document = await next_event(feed)
        assert name == "status" and document["settings"]["price_threshold"] == 0.21


async def test_the_live_feed_leaves_out_what_the_page_holds(guarded: World, client: Client) -> None:
    """The page loads both documents and names their ETags: the feed sends only what changed since."""
    tags = {name: (await client.request("GET", f"api/{name}"))[1]["Etag"] for name in ("status", "plan")}
    query = "&".join(f"{name}={tag}" for name, tag in tags.items())
    async with client.session.get(client.base + f"api/events?{query}", headers=basic("o", WEB_PASSWORD)) as feed:
        await client.change({"top_x_charge_count": 3})
        name, document = await next_event(feed)
        assert name == "status" and document["settings"]["top_x_charge_count"] == 3


async def next_event(feed: aiohttp.ClientResponse) -> tuple[str, Any]:
    """The next event of a server-sent event stream (comments skipped)."""
    name, data = "message", ""
    async with asyncio.timeout(5):
        while True:
            line = (await feed.content.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data += line.removeprefix("data: ")
            elif not line and data:
                return name, json.loads(data)


async def test_behind_ingress_only_the_proxy_may_connect(guarded: World) -> None:
    """The same agent served a second time as the Home Assistant app serves it: a peer other than the ingress
    proxy (here 127.0.0.1) is refused before anything else."""
    agent = guarded.agent
    assert agent is not None
    settings = agent.settings.model_copy(update={"web": WebSettings(host="127.0.0.1", port=0, ingress=True)})
    server = WebServer(agent.view, settings, commands=agent.commands, events=agent.events, clock=agent.clock)
    port = await server.start()
    try:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/api/status") as answer:
            assert answer.status == 403
            assert "ingress proxy" in (await answer.json())["errors"][0]
    finally:
        await server.stop()


def mocked(host: str, peer: str = "127.0.0.1", method: str = "GET", **headers: str) -> Any:
    class Transport:
        def get_extra_info(self, name: str, default: Any = None) -> Any:
            return (peer, 50000) if name == "peername" else default

    return make_mocked_request(method, "/api/status", headers={"Host": host, **headers}, transport=Transport())


def test_the_access_rules() -> None:
    ingress = Access.from_settings(WebSettings(host="0.0.0.0", ingress=True))
    assert (ingress.only_from, ingress.password, ingress.loopback_only) == (INGRESS_PROXY, None, False)
    assert ingress.refusal(mocked("172.30.33.5:9714", peer=INGRESS_PROXY)) is None
    refused = ingress.refusal(mocked("172.30.33.5:9714", peer="172.30.32.7"))
    assert refused is not None and refused.status == 403
    # without a password the page is on loopback, and a request must name a loopback host (DNS rebinding)
    local = Access.from_settings(WebSettings())
    for host in ("127.0.0.1:9714", "localhost:9714", "[::1]:9714", "127.0.0.1"):
        assert local.refusal(mocked(host)) is None, host
    rebound = local.refusal(mocked("evil.example:9714"))
    assert rebound is not None and rebound.status == 403


@pytest.mark.parametrize(
    ("web", "error"),
    [
        ({"host": "0.0.0.0"}, "web: host 0.0.0.0 is reachable from other machines: set web.password, or bind "
                              "127.0.0.1 (the default)"),
        ({"host": "192.168.1.20"}, "web: host 192.168.1.20 is reachable"),
        ({"host": "0.0.0.0", "password": "pw"}, None),
        ({"host": "0.0.0.0", "ingress": True}, None),
        ({"host": "::1"}, None),
        ({"host": "0.0.0.0", "enabled": False}, None),
    ],
)  # fmt: skip
def test_a_page_open_to_the_network_needs_a_password(web: dict[str, Any], error: str | None) -> None:
    registry = collect(get_plugin_manager(load_entry_points=False))
    if error is None:
        load_settings(registry, data={"web": web}, environ=False)
        return
    with pytest.raises(ConfigError) as raised:
        load_settings(registry, data={"web": web}, environ=False)
    assert raised.value.problems[0].startswith(error)
