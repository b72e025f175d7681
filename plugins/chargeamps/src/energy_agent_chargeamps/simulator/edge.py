"""The edge of the simulated cloud: every request is logged, and injected faults strike before the API sees it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from energy_agent.api import Clock
from energy_agent_chargeamps.simulator.faults import Fault, FaultRule, FaultTable, echo_response, fault_response
from energy_agent_chargeamps.simulator.request_log import LoggedRequest, redact
from energy_agent_chargeamps.simulator.wire import NUMERIC_STATUS

_log = logging.getLogger(__name__)


UNMATCHED = "(unmatched)"
"""The route template logged for a path no route serves."""


def route_key(request: web.Request) -> str:
    """ "METHOD template" for the route that serves this request."""
    resource = request.match_info.route.resource
    return f"{request.method} {resource.canonical if resource is not None else UNMATCHED}"


async def _body_for_log(request: web.Request) -> Any:
    # read() caches the body, so the handler can still read it.
    raw = await request.read()
    if not raw:
        return None
    try:
        return redact(json.loads(raw))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def edge_middleware(
    clock: Clock, faults: FaultTable, request_log: list[LoggedRequest], stopping: asyncio.Event
) -> Middleware:
    """The middleware that logs each request and applies the fault (if any) that fires on it."""

    @web.middleware
    async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
        entry = LoggedRequest(
            method=request.method,
            route=route_key(request),
            path=request.path,
            query=dict(request.query),
            json_body=await _body_for_log(request),
            at=clock.now(),
        )
        request_log.append(entry)
        rule = faults.pick(entry.route)
        entry.fault = rule.fault if rule is not None else None
        if rule is not None and rule.fault is Fault.DROP:
            if request.transport is not None:
                request.transport.abort()
            # Nothing reaches the client; the entry's status stays None.
            return web.Response(status=499)
        try:
            response = await _answer(request, handler, rule, stopping)
        except web.HTTPException as exc:
            entry.status = exc.status
            raise
        except Exception:
            entry.status = 500
            raise
        else:
            entry.status = response.status
            return response
        finally:
            _log.debug("%s %s -> %s", entry.route, entry.path, entry.status)

    return edge


async def _answer(
    request: web.Request, handler: Handler, rule: FaultRule | None, stopping: asyncio.Event
) -> web.StreamResponse:
    if rule is None:
        return await handler(request)
    if rule.fault is Fault.SLOW:
        # A real sleep: this fault is about the client's own timeout. Stopping the simulator cuts it short.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), rule.delay_s)
        return await handler(request)
    if rule.fault is Fault.LATE_ANSWER:
        # Applied first, answered late: the client may give up on an answer to a write the cloud holds.
        response = await handler(request)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), rule.delay_s)
        return response
    if rule.fault is Fault.ECHO_BODY:
        return echo_response(rule, await request.read())
    if rule.fault is Fault.NUMERIC_STATUS:
        request[NUMERIC_STATUS] = True
        return await handler(request)
    return fault_response(rule)
