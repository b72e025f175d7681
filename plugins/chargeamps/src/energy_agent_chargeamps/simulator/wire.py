"""How the simulator writes things on the wire: times, status names or codes, JSON bodies and error answers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

OCPP_STATUS_CODES = {
    "Available": 0,
    "Preparing": 1,
    "Charging": 2,
    "SuspendedEVSE": 3,
    "SuspendedEV": 4,
    "Finishing": 5,
    "Reserved": 6,
    "Unavailable": 7,
    "Faulted": 8,
    "Unknown": 9,
}
"""OCPP connector statuses and the numbers the cloud sometimes sends instead (EAPI v4 notes)."""

CAPI_STATUS_CODES = {"Available": 0, "Charging": 1, "Connected": 2, "Error": 3, "Unknown": 4}
"""CAPI connector statuses and their numbers (EAPI v4 notes)."""

MODE_CODES = {"Off": 0, "On": 1, "Schedule": 2}
"""Connector modes in the order of the OpenAPI OnOffMode enum."""

CHARGE_POINT_STATUS_CODES = {"Online": 0, "Offline": 1}
"""Charge point statuses in the order of the OpenAPI ChargePointStatusType enum."""

_OCTET_STREAM = "application/octet-stream"

NUMERIC_STATUS = web.RequestKey("numeric_status", bool)
"""Set on a request when a NUMERIC_STATUS fault asks for numbers where names belong."""


def iso_z(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, as the cloud writes times; None stays None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Wire:
    """Writes enum-like fields as names, or as numbers when a fault asks for it."""

    numeric: bool = False

    @classmethod
    def for_request(cls, request: web.Request) -> Wire:
        """The encoding that applies to this request."""
        return cls(numeric=request.get(NUMERIC_STATUS, False))

    def mode(self, name: str) -> str | int:
        """A connector mode."""
        return MODE_CODES[name] if self.numeric else name

    def ocpp_status(self, name: str) -> str | int:
        """An OCPP connector status."""
        return OCPP_STATUS_CODES[name] if self.numeric else name

    def capi_status(self, name: str) -> str | int:
        """A CAPI connector status."""
        return CAPI_STATUS_CODES[name] if self.numeric else name

    def charge_point_status(self, name: str) -> str | int:
        """A charge point's Online/Offline status."""
        return CHARGE_POINT_STATUS_CODES[name] if self.numeric else name


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON answer."""
    return web.json_response(data, status=status)


def error_response(status: int, message: str, message_code: str) -> web.Response:
    """An error in the OpenAPI HttpErrorResponse shape."""
    return web.json_response({"error": message, "messageCode": message_code}, status=status)


def unauthorized(reason: str) -> web.HTTPUnauthorized:
    """A 401 with an empty body, as ASP.NET answers a missing, bad or expired bearer token."""
    challenge = f'Bearer error="invalid_token", error_description="{reason}"'
    return web.HTTPUnauthorized(headers={"WWW-Authenticate": challenge}, text="", content_type=_OCTET_STREAM)


def forbidden() -> web.HTTPForbidden:
    """A 403 with an empty body."""
    return web.HTTPForbidden(text="", content_type=_OCTET_STREAM)


def not_found() -> web.HTTPNotFound:
    """A 404 with an empty body."""
    return web.HTTPNotFound(text="", content_type=_OCTET_STREAM)


async def read_json(request: web.Request) -> Any:
    """The parsed request body; a 400 for a body that is not JSON, None for an empty one."""
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "The request body is not valid JSON", "messageCode": "INVALID_JSON"}),
            content_type="application/json",
        ) from exc
