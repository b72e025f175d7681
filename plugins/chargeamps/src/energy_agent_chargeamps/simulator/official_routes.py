"""The official external API v5 (`/api/v5/...`), with the OpenAPI document's field names.

Route templates name the charge point `{id}` and the connector `{c}`; fault keys match any placeholder names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from energy_agent_chargeamps.simulator.access import (
    OFFICIAL_AUDIENCE,
    bearer_account,
    connector_of,
    owned_charge_point,
    same_secret,
    world_of,
)
from energy_agent_chargeamps.simulator.connector import MODES, ChargingSession, Connector
from energy_agent_chargeamps.simulator.schedules import ScheduleInvalidError, parse_optional_time
from energy_agent_chargeamps.simulator.state import Account, ChargePoint
from energy_agent_chargeamps.simulator.tokens import TokenError
from energy_agent_chargeamps.simulator.wire import Wire, error_response, json_response, read_json, unauthorized

routes = web.RouteTableDef()
"""The official v5 routes."""

_PHASES = ("L1", "L2", "L3")


def _official_account(request: web.Request) -> Account:
    return bearer_account(request, OFFICIAL_AUDIENCE)


def _charge_point(request: web.Request) -> ChargePoint:
    return owned_charge_point(request, _official_account(request), request.match_info["id"])


def _connector(request: web.Request) -> Connector:
    return connector_of(_charge_point(request), request.match_info["c"])


def user_view_json(account: Account) -> dict[str, Any]:
    """The OpenAPI UserView."""
    return {
        "id": account.user_id,
        "firstName": account.first_name,
        "lastName": account.last_name,
        "email": account.email,
        "mobile": None,
        "rfidTags": [],
        "userStatus": "Valid",
    }


def connector_settings_json(connector: Connector, wire: Wire) -> dict[str, Any]:
    """The OpenAPI ConnectorSettings."""
    return {
        "chargePointId": connector.charge_point_id,
        "connectorId": connector.connector_id,
        "maxCurrent": connector.max_current_a,
        "rfidLock": connector.rfid_lock,
        "mode": wire.mode(connector.mode),
        "cableLock": connector.cable_lock,
    }


def charge_point_json(charge_point: ChargePoint, wire: Wire) -> dict[str, Any]:
    """The OpenAPI ChargePoint."""
    product = charge_point.product
    return {
        "id": charge_point.id,
        "name": charge_point.name,
        "password": None,
        "type": product.product_name,
        "isLoadbalanced": False,
        "firmwareVersion": product.firmware_version,
        "hardwareVersion": product.hardware_version,
        "ownerReadOnly": False,
        "ocppVersion": product.ocpp_version,
        "settings": {
            "id": charge_point.id,
            "dimmer": product.dimmer,
            "downLight": product.down_light,
            "maxCurrent": product.installation_current_a,
        },
        "connectors": [
            {
                "chargePointId": charge_point.id,
                "connectorId": c.connector_id,
                "type": c.function,
                "settings": connector_settings_json(c, wire),
                "connectorUserId": None,
            }
            for c in charge_point.connectors.values()
        ],
    }


def connector_status_json(charge_point: ChargePoint, connector: Connector, wire: Wire) -> dict[str, Any]:
    """The OpenAPI ConnectorStatus; measurements only while charging, as the document says."""
    if charge_point.ocpp_version is None:
        status = wire.capi_status(connector.capi_status)
    else:
        status = wire.ocpp_status(connector.ocpp_status)
    measurements = None
    if connector.is_charging:
        measurements = [
            {"phase": phase, "current": current_a, "voltage": connector.voltage_v}
            for phase, current_a in zip(_PHASES, connector.phase_currents_a, strict=True)
            if current_a > 0
        ]
    session = connector.session
    return {
        "chargePointId": charge_point.id,
        "connectorId": connector.connector_id,
        "totalConsumptionKwh": round(connector.total_consumption_kwh, 6),
        "chargingPowerKw": round(connector.power_kw, 6),
        "sessionType": session.session_type if session is not None else None,
        "status": status,
        "measurements": measurements,
        "startTime": session.to_json()["startTime"] if session is not None else None,
        "endTime": None,
        "sessionId": session.session_id if session is not None else None,
    }


@routes.post("/api/v5/auth/login")
async def login(request: web.Request) -> web.Response:
    """Email + password + `apiKey` header → `{message, token, user, refreshToken}`."""
    body = await read_json(request)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("email"), str)
        or not isinstance(body.get("password"), str)
    ):
        return error_response(400, "Email and password are required", "INVALID_REQUEST")
    world = world_of(request)
    account = world.account(body["email"])
    api_key = request.headers.get("apiKey", "")
    if (
        account is None
        or not same_secret(body["password"], account.password)
        or not same_secret(api_key, account.api_key)
    ):
        raise unauthorized("invalid credentials or api key")
    account.login_count += 1
    issued = world.tokens.issue(
        email=account.email,
        user_id=account.user_id,
        audience=OFFICIAL_AUDIENCE,
        lifetime_s=world.official_token_lifetime_s,
        refresh_lifetime_s=world.refresh_token_lifetime_s,
    )
    return json_response(
        {
            "message": "Login successful",
            "token": issued.token,
            "user": user_view_json(account),
            "refreshToken": issued.refresh_token,
        }
    )


@routes.post("/api/v5/auth/refreshtoken")
async def refresh_token(request: web.Request) -> web.Response:
    """A (possibly expired) token and its refresh token → a new pair; the old pair stops working."""
    body = await read_json(request)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("token"), str)
        or not isinstance(body.get("refreshToken"), str)
    ):
        return error_response(400, "Token and refreshToken are required", "INVALID_REQUEST")
    world = world_of(request)
    try:
        issued = world.tokens.refresh(
            body["token"],
            body["refreshToken"],
            audience=OFFICIAL_AUDIENCE,
            lifetime_s=world.official_token_lifetime_s,
        )
    except TokenError:
        return error_response(400, "Invalid token or refresh token", "INVALID_REFRESH_TOKEN")
    return json_response({"token": issued.token, "refreshToken": issued.refresh_token})


@routes.get("/api/v5/chargepoints/owned")
async def owned(request: web.Request) -> web.Response:
    """The caller's charge points."""
    account = _official_account(request)
    wire = Wire.for_request(request)
    return json_response([charge_point_json(cp, wire) for cp in world_of(request).owned_by(account.email)])


@routes.get("/api/v5/chargepoints/{id}")
async def charge_point(request: web.Request) -> web.Response:
    """One charge point."""
    return json_response(charge_point_json(_charge_point(request), Wire.for_request(request)))


@routes.get("/api/v5/chargepoints/{id}/status")
async def status(request: web.Request) -> web.Response:
    """The charge point's status and every connector's status."""
    charge_point = _charge_point(request)
    wire = Wire.for_request(request)
    return json_response(
        {
            "id": charge_point.id,
            "status": wire.charge_point_status("Online" if charge_point.online else "Offline"),
            "connectorStatuses": [
                connector_status_json(charge_point, c, wire) for c in charge_point.connectors.values()
            ],
        }
    )


@routes.get("/api/v5/chargepoints/{id}/connectors/{c}/settings")
async def get_connector_settings(request: web.Request) -> web.Response:
    """The OpenAPI ViewConnectorSettings."""
    connector = _connector(request)
    data = connector_settings_json(connector, Wire.for_request(request))
    data["installationCurrent"] = int(connector.installation_current_a)
    return json_response(data)


def _settings_problem(body: Any, connector: Connector) -> str | None:
    if not isinstance(body, dict):
        return "The settings must be an object"
    if body.get("chargePointId", connector.charge_point_id) != connector.charge_point_id:
        return "ChargePointId does not match the path"
    if body.get("connectorId", connector.connector_id) != connector.connector_id:
        return "ConnectorId does not match the path"
    if body.get("mode") not in MODES:
        return f"Mode must be one of {', '.join(MODES)}"
    current = body.get("maxCurrent")
    if current is not None and (
        isinstance(current, bool) or not isinstance(current, int | float) or not (current == 0 or 6 <= current <= 32)
    ):
        return "MaxCurrent must be null, 0 or between 6 and 32"
    for flag in ("rfidLock", "cableLock"):
        if flag in body and not isinstance(body[flag], bool):
            return f"{flag} must be a boolean"
    return None


@routes.put("/api/v5/chargepoints/{id}/connectors/{c}/settings")
async def put_connector_settings(request: web.Request) -> web.Response:
    """Replace the connector's settings whole; a null maxCurrent means the installation's limit.

    The body is the OpenAPI CreateConnectorSettings, whose `rfidLock` and `cableLock` are plain (non-nullable)
    booleans: a lock left out of the body is bound as false, so a PUT of only mode and current unlocks the
    connector. A client that means to change one setting must read the others first and send them back.
    """
    connector = _connector(request)
    body = await read_json(request)
    problem = _settings_problem(body, connector)
    if problem is not None:
        return error_response(400, problem, "INVALID_SETTINGS")
    current = body.get("maxCurrent")
    connector.apply_settings(
        mode=body["mode"],
        max_current_a=connector.installation_current_a if current is None else float(current),
        rfid_lock=bool(body.get("rfidLock", False)),
        cable_lock=bool(body.get("cableLock", False)),
    )
    return web.Response(status=200)


@routes.put("/api/v5/chargepoints/{id}/connectors/{c}/remotestart")
async def remote_start(request: web.Request) -> web.Response:
    """Lift a remote stop (the StartAuth body with an RFID is accepted and ignored)."""
    connector = _connector(request)
    body = await read_json(request)
    if body is not None and not isinstance(body, dict):
        return error_response(400, "StartAuth must be an object", "INVALID_REQUEST")
    connector.remote_start()
    return web.Response(status=200)


@routes.put("/api/v5/chargepoints/{id}/connectors/{c}/remotestop")
async def remote_stop(request: web.Request) -> web.Response:
    """Stop charging until a remote start or the next plug-in."""
    _connector(request).remote_stop()
    return web.Response(status=200)


def _sessions_json(request: web.Request, connectors: list[Connector]) -> web.Response:
    try:
        start = parse_optional_time(request.query.get("startTime"), "startTime")
        end = parse_optional_time(request.query.get("endTime"), "endTime")
        max_count = int(request.query["maxCount"]) if "maxCount" in request.query else None
    except (ScheduleInvalidError, ValueError):
        return error_response(400, "startTime, endTime or maxCount is invalid", "INVALID_REQUEST")
    for connector in connectors:
        connector.settle()
    sessions: list[ChargingSession] = [s for c in connectors for s in c.sessions if _overlaps(s, start, end)]
    sessions.sort(key=lambda s: s.start_time, reverse=True)
    if max_count is not None:
        sessions = sessions[: max(0, max_count)]
    return json_response([s.to_json() for s in sessions])


def _overlaps(session: ChargingSession, start: datetime | None, end: datetime | None) -> bool:
    if end is not None and session.start_time >= end:
        return False
    return not (start is not None and session.end_time is not None and session.end_time <= start)


@routes.get("/api/v5/chargepoints/{id}/chargingsessions")
async def charge_point_sessions(request: web.Request) -> web.Response:
    """Sessions of every connector, newest first; filters startTime, endTime, maxCount."""
    charge_point = _charge_point(request)
    return _sessions_json(request, list(charge_point.connectors.values()))


@routes.get("/api/v5/chargepoints/{id}/connectors/{c}/chargingsessions")
async def connector_sessions(request: web.Request) -> web.Response:
    """Sessions of one connector, newest first."""
    return _sessions_json(request, [_connector(request)])
