"""The owner's web page and its JSON API, served by the agent (aiohttp): `web:` in the config, docs/web.md.

| route | what |
|---|---|
| `GET /` | the page |
| `GET /static/app.js`, `/static/app.css` | its one script and style sheet (package data) |
| `GET /api/status` | the agent, the controls' values, the devices, the last commands, the warnings |
| `GET /api/plan` | per device: the slots with their verdicts and reasons, the periods, the chart as SVG |
| `GET /api/events` | server-sent events: `status` and `plan` whenever they change |
| `POST /api/settings` | change the mode or standalone settings, `{"price_threshold": 0.2}`; answers what holds |

It reads the agent through `AgentView` and changes it only through the agent's ordered commands, the path MQTT
and Home Assistant use. Who may connect is `auth.Access`; every answer carries a Content-Security-Policy that
allows no inline script, and every JSON answer has the configured secrets masked.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from importlib import resources
from typing import Any, Protocol

from aiohttp import web

from energy_agent.api.clock import Clock
from energy_agent.api.domain import OperationMode
from energy_agent.config import CoreSettings, StandaloneSettings
from energy_agent.runtime.events import Events
from energy_agent.runtime.view import AgentView
from energy_agent.secrets import masker_for
from energy_agent.web.auth import Access
from energy_agent.web.controls import MODE, accepted_controls, control_values, parse_changes
from energy_agent.web.live import LiveFeed, encode, etag
from energy_agent.web.page import render_page
from energy_agent.web.plan_document import plan_document
from energy_agent.web.status_document import status_document

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}
MAX_BODY_BYTES = 16 * 1024


class Commands(Protocol):
    """Where the controls' changes go: the agent's ordered commands (`AgentCommands`)."""

    def command_mode(self, mode: OperationMode, reason: str) -> Awaitable[OperationMode]:
        """Switch the mode after the commands before it; gives the mode then in force."""
        ...

    async def change_standalone(self, **changes: Any) -> StandaloneSettings:
        """Apply run-time changes after the commands before them; ValueError says what is wrong."""
        ...


class WebServer:
    """Serves the page for one agent; `start` then, at shutdown, `stop` (an agent `Service`)."""

    name = "web page (set web.port or web.enabled)"

    def __init__(
        self,
        view: AgentView,
        settings: CoreSettings,
        *,
        commands: Commands,
        events: Events,
        clock: Clock,
        port: int | None = None,
    ) -> None:
        """Serve on `web.host` and `port` (default `web.port`; 0 picks a free port)."""
        self.view = view
        self._settings = settings
        self._commands = commands
        self._clock = clock
        self._host = settings.web.host
        self._port = settings.web.port if port is None else port
        self._access = Access.from_settings(settings.web)
        self._masker = masker_for(settings)
        self._runner: web.AppRunner | None = None
        self._assets = {name: (resources.files(__package__) / "static" / name).read_bytes() for name in ASSETS}
        self.feed = LiveFeed(events, {"status": self.status, "plan": self.plan}, self._masker)
        self.port: int | None = None
        """The bound port while serving."""
        app = web.Application(middlewares=[self._guard], client_max_size=MAX_BODY_BYTES)
        app.on_response_prepare.append(self._secure_headers)
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name}", self._asset)
        app.router.add_get("/api/status", self._status)
        app.router.add_get("/api/plan", self._plan)
        app.router.add_get("/api/events", self.feed.serve)
        app.router.add_post("/api/settings", self._change)
        self.app = app

    @property
    def url(self) -> str | None:
        """Where the page is while serving (a host of 0.0.0.0 or :: is shown as it is)."""
        if self.port is None:
            return None
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}/"

    def status(self) -> dict[str, Any]:
        """The `/api/status` document now."""
        return status_document(self.view, self._clock.now(), self._settings.zone)

    def plan(self) -> dict[str, Any]:
        """The `/api/plan` document now."""
        return plan_document(self.view, self._clock.now(), self._settings.zone)

    async def start(self) -> int:
        """Listen; return the bound port. OSError if it is taken."""
        if self._runner is not None:
            raise RuntimeError("the web server is running already")
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("web page on %s", self.url)
        return self.port

    async def stop(self) -> None:
        """Stop listening and end the live feeds (a no-op when not started)."""
        self.feed.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            self.port = None
            await runner.cleanup()

    # -- middleware and handlers -------------------------------------------------------------------
    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        refusal = self._access.refusal(request)
        if refusal is not None:
            return refusal
        response: web.StreamResponse = await handler(request)
        return response

    @staticmethod
    async def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)

    async def _page(self, request: web.Request) -> web.Response:
        charts = [(chart["name"], chart["svg"]) for chart in self.plan()["charts"]]
        page = self._masker.mask(render_page(charts, accepted_controls()))
        return _compressed(web.Response(text=page, content_type="text/html"))

    async def _status(self, request: web.Request) -> web.Response:
        return self._json(self.status())

    async def _plan(self, request: web.Request) -> web.Response:
        return self._json(self.plan())

    async def _asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in ASSETS:
            raise web.HTTPNotFound()
        return _compressed(web.Response(body=self._assets[name], content_type=ASSETS[name]))

    async def _change(self, request: web.Request) -> web.Response:
        """Change the mode and/or standalone settings through the ordered commands; answer what holds then."""
        try:
            body = await request.json()
        except ValueError:
            return self._json({"accepted": False, "errors": ["the body is not JSON"]}, status=400)
        try:
            changes = parse_changes(body)
        except ValueError as exc:
            return self._json({"accepted": False, "errors": str(exc).split("; ")}, status=400)
        mode = changes.pop(MODE, None)
        try:
            if mode is not None:
                await self._commands.command_mode(OperationMode(mode), "web page")
            if changes:
                await self._commands.change_standalone(**changes)
        except ValueError as exc:
            body = {"accepted": False, "errors": str(exc).split("; "), "settings": control_values(self.view)}
            return self._json(body, status=400)
        return self._json({"accepted": True, "errors": [], "settings": control_values(self.view)})

    def _json(self, body: dict[str, Any], *, status: int = 200) -> web.Response:
        text = encode(body, self._masker)
        response = web.Response(text=text, status=status, content_type="application/json")
        response.headers["ETag"] = etag(text)
        return _compressed(response)


def _compressed(response: web.Response) -> web.Response:
    """Compressed when the client takes it (the chart's SVG shrinks about tenfold); the live feed is not, as a
    compressor would hold its events back."""
    response.enable_compression()
    return response
