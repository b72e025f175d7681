"""The unofficial user-app API (`/api/...`) behind the Charge Amps web app, including weekly schedules."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from energy_agent_chargeamps.simulator.access import (
    USERAPP_AUDIENCE,
    bearer_account,
    connector_of,
    owned_charge_point,
    require_browser_headers,
    same_secret,
    world_of,
)
from energy_agent_chargeamps.simulator.connector import Connector
from energy_agent_chargeamps.simulator.schedules import INVALID_DATA, ScheduleInvalidError, parse_schedule
from energy_agent_chargeamps.simulator.state import Account, ChargePoint
from energy_agent_chargeamps.simulator.wire import Wire, error_response, json_response, read_json

routes = web.RouteTableDef()
"""The user-app routes; templates keep the vendor's parameter names."""


def _userapp_account(request: web.Request) -> Account:
    require_browser_headers(request)
    return bearer_account(request, USERAPP_AUDIENCE)


def user_json(account: Account) -> dict[str, Any]:
    """The `user` object of a login answer."""
    return {
        "id": account.user_id,
        "firstName": account.first_name,
        "lastName": account.last_name,
        "email": account.email,
        "mobile": None,
    }


def connector_json(connector: Connector, wire: Wire) -> dict[str, Any]:
    """A connector as the user-app lists it; power is the sum of voltageN * currentN."""
    currents_a = connector.phase_currents_a
    return {
        "chargePointId": connector.charge_point_id,
        "connectorId": connector.connector_id,
        "name": "Schuko" if connector.function == "Schuko" else f"Connector {connector.connector_id}",
        "type": connector.function,
        "mode": wire.mode(connector.mode),
        "maxCurrent": connector.max_current_a,
        "isCharging": connector.is_charging,
        "totalConsumptionKwh": round(connector.total_consumption_kwh, 6),
        "current1": currents_a[0],
        "current2": currents_a[1],
        "current3": currents_a[2],
        "voltage1": connector.voltage_v,
        "voltage2": connector.voltage_v,
        "voltage3": connector.voltage_v,
        "ocppStatus": wire.ocpp_status(connector.ocpp_status),
        "errorCode": "NoError",
        "enabled": connector.enabled,
    }


def charge_point_json(charge_point: ChargePoint, wire: Wire, expand: set[str]) -> dict[str, Any]:
    """A charge point as `POST /api/users/chargepoints/owned` lists it."""
    data: dict[str, Any] = {
        "id": charge_point.id,
        "name": charge_point.name,
        "serialNumber": charge_point.id,
        "productName": charge_point.product.product_name.title(),
        "productType": charge_point.product.product_name,
        "ocppVersion": charge_point.ocpp_version,
        "chargePointStatus": wire.charge_point_status("Online" if charge_point.online else "Offline"),
        "isCharging": charge_point.is_charging,
        "connectors": [connector_json(c, wire) for c in charge_point.connectors.values()],
    }
    if "ocppConfig" in expand:
        data["ocppConfig"] = {"ocppVersion": charge_point.ocpp_version}
    if "topChargingLimitation" in expand:
        data["topChargingLimitation"] = {"maxCurrent": charge_point.product.installation_current_a}
    return data


@routes.post("/api/auth/login")
async def login(request: web.Request) -> web.Response:
    """Email + password → `{token, user}`; no refresh token on this API."""
    require_browser_headers(request)
    body = await read_json(request)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("email"), str)
        or not isinstance(body.get("password"), str)
    ):
        return error_response(400, "Email and password are required", "INVALID_REQUEST")
    world = world_of(request)
    account = world.account(body["email"])
    if account is None or not same_secret(body["password"], account.password):
        return error_response(401, "Invalid email or password", "INVALID_CREDENTIALS")
    account.login_count += 1
    issued = world.tokens.issue(
        email=account.email,
        user_id=account.user_id,
        audience=USERAPP_AUDIENCE,
        lifetime_s=world.userapp_token_lifetime_s,
    )
    return json_response({"token": issued.token, "user": user_json(account)})


@routes.post("/api/users/chargepoints/owned")
async def owned(request: web.Request) -> web.Response:
    """The caller's charge points; the body must be a JSON array (the web app sends `[]`)."""
    account = _userapp_account(request)
    if not isinstance(await read_json(request), list):
        return error_response(400, "The request body must be a JSON array", "INVALID_REQUEST")
    expand = {part.strip() for part in request.query.get("expand", "").split(",") if part.strip()}
    wire = Wire.for_request(request)
    charge_points = world_of(request).owned_by(account.email)
    return json_response([charge_point_json(cp, wire, expand) for cp in charge_points])


@routes.get("/api/smartChargingSchedules/chargepoint/{chargePointId}")
async def list_schedules(request: web.Request) -> web.Response:
    """The stored schedules of every connector of one charge point."""
    account = _userapp_account(request)
    charge_point = owned_charge_point(request, account, request.match_info["chargePointId"])
    schedules = [c.schedule.to_json() for c in charge_point.connectors.values() if c.schedule is not None]
    return json_response(schedules)


@routes.put("/api/smartChargingSchedules")
async def put_schedule(request: web.Request) -> web.Response:
    """Replace a connector's weekly schedule, switch it to Schedule mode, answer the stored schedule."""
    account = _userapp_account(request)
    body = await read_json(request)
    try:
        parsed = parse_schedule(body, schedule_id=0)
    except ScheduleInvalidError as exc:
        return error_response(400, str(exc), INVALID_DATA)
    charge_point = owned_charge_point(request, account, parsed.charge_point_id)
    connector = connector_of(charge_point, parsed.connector_id)
    schedule = dataclasses.replace(parsed, schedule_id=world_of(request).next_schedule_id())
    connector.store_schedule(schedule)
    return json_response(schedule.to_json())


@routes.delete("/api/smartChargingSchedules/{chargePointId}/{connectorId}")
async def delete_schedule(request: web.Request) -> web.Response:
    """Remove a connector's schedule (a no-op when there is none)."""
    account = _userapp_account(request)
    charge_point = owned_charge_point(request, account, request.match_info["chargePointId"])
    connector_of(charge_point, request.match_info["connectorId"]).delete_schedule()
    return web.Response(status=200)
