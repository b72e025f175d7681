"""Who may call what: browser headers for the user-app API, bearer tokens, and charge point ownership."""

from __future__ import annotations

import hmac

from aiohttp import web

from energy_agent_chargeamps.simulator.connector import Connector
from energy_agent_chargeamps.simulator.state import Account, ChargePoint, World
from energy_agent_chargeamps.simulator.tokens import TokenError
from energy_agent_chargeamps.simulator.wire import forbidden, not_found, unauthorized

WORLD = web.AppKey("world", World)
"""Where the application keeps the simulated cloud's state."""

USERAPP_AUDIENCE = "userapp"
"""The `aud` claim of user-app tokens."""

OFFICIAL_AUDIENCE = "eapi"
"""The `aud` claim of official API tokens."""

USERAPP_ORIGIN = "https://my.charge.space"
"""The Origin the user-app API insists on."""

USERAPP_REFERER_PREFIX = "https://my.charge.space/userapp/"
"""Every accepted Referer starts with this."""

BROWSER_AGENT_PREFIX = "Mozilla/5.0"
"""Every accepted User-Agent starts with this."""


def world_of(request: web.Request) -> World:
    """The simulated cloud behind this request."""
    return request.app[WORLD]


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(given.encode(), expected.encode())


def require_browser_headers(request: web.Request) -> None:
    """403 unless the call carries the headers of the Charge Amps web app (required since 2026)."""
    headers = request.headers
    if (
        headers.get("Origin") != USERAPP_ORIGIN
        or not headers.get("Referer", "").startswith(USERAPP_REFERER_PREFIX)
        or not headers.get("User-Agent", "").startswith(BROWSER_AGENT_PREFIX)
    ):
        raise forbidden()


def bearer_account(request: web.Request, audience: str) -> Account:
    """The account whose live token for `audience` the Authorization header carries; 401 otherwise."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("missing bearer token")
    world = world_of(request)
    try:
        email = world.tokens.verify(token.strip(), audience)
    except TokenError as exc:
        raise unauthorized(str(exc)) from exc
    account = world.account(email)
    if account is None:
        raise unauthorized("account no longer exists")
    return account


def owned_charge_point(request: web.Request, account: Account, charge_point_id: str) -> ChargePoint:
    """The charge point if `account` owns it: 404 when unknown, 403 when someone else's."""
    charge_point = world_of(request).charge_points.get(charge_point_id)
    if charge_point is None:
        raise not_found()
    if charge_point.owner_email.lower() != account.email.lower():
        raise forbidden()
    return charge_point


def connector_of(charge_point: ChargePoint, connector_id: object) -> Connector:
    """A connector of `charge_point` by its number (int or path text); 404 when there is none."""
    try:
        number = int(str(connector_id))
    except ValueError as exc:
        raise not_found() from exc
    connector = charge_point.connectors.get(number)
    if connector is None:
        raise not_found()
    return connector
