"""Hand-written fakes for the switched-load tests.

`FakeHomeAssistant` is a small real HTTP server speaking the part of Home Assistant's REST API the switch
driver uses: it checks the bearer token, keeps entity states, records every service call, and can be told
to fail.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

TOKEN = "ha-long-lived-token-9f8e7d6c5b4a"


@dataclass
class ServiceCall:
    """One service call the fake received."""

    domain: str
    service: str
    body: dict[str, Any]


@dataclass
class FakeHomeAssistant:
    """`POST /api/services/{domain}/{service}` and `GET /api/states/{entity_id}` for switch entities."""

    token: str = TOKEN
    states: dict[str, str] = field(default_factory=lambda: {"switch.boiler": "off"})
    calls: list[ServiceCall] = field(default_factory=list)
    fail_status: int | None = None
    """Answer every request with this HTTP status."""
    delay_s: float = 0.0
    """Wait this long (real time) before answering."""
    authorizations: list[str] = field(default_factory=list)
    _server: TestServer | None = None
    port: int = 0

    @property
    def url(self) -> str:
        """Base URL of the API, as the driver's config wants it."""
        return f"http://127.0.0.1:{self.port}/api"

    async def start(self) -> None:
        """Listen on a free port."""
        app = web.Application(middlewares=[self._gate])
        app.router.add_post("/api/services/{domain}/{service}", self._service)
        app.router.add_get("/api/states/{entity_id}", self._state)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        self.port = self._server.port or 0

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            await self._server.close()

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.authorizations.append(request.headers.get("Authorization", ""))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"message": "Invalid authentication"}, status=401)
        if self.fail_status is not None:
            return web.json_response({"message": "injected failure"}, status=self.fail_status)
        response: web.StreamResponse = await handler(request)
        return response

    async def _service(self, request: web.Request) -> web.Response:
        domain, service = request.match_info["domain"], request.match_info["service"]
        body = await request.json()
        entity_id = body.get("entity_id")
        if service not in ("turn_on", "turn_off") or entity_id not in self.states:
            return web.json_response({"message": f"Service {domain}.{service} not found."}, status=400)
        self.calls.append(ServiceCall(domain, service, body))
        self.states[entity_id] = "on" if service == "turn_on" else "off"
        return web.json_response([{"entity_id": entity_id, "state": self.states[entity_id]}])

    async def _state(self, request: web.Request) -> web.Response:
        entity_id = request.match_info["entity_id"]
        if entity_id not in self.states:
            return web.json_response({"message": "Entity not found."}, status=404)
        return web.json_response({"entity_id": entity_id, "state": self.states[entity_id], "attributes": {}})

    def services(self) -> list[str]:
        """The service calls so far, as `domain.service entity_id`."""
        return [f"{c.domain}.{c.service} {c.body.get('entity_id')}" for c in self.calls]
