"""The Charge Amps cloud simulator, exercised over real HTTP the way the client and the end-to-end tests use it."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from energy_agent.testing import ManualClock
from energy_agent_chargeamps.simulator import (
    DEMO_API_KEY,
    DEMO_CHARGE_POINT_ID,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    Fault,
    FaultMode,
    Simulator,
    serve_forever,
)

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, 11:00 in Amsterdam
WEEK_START = "2026-11-22T23:00:00Z"  # Monday 00:00 Europe/Amsterdam, written in UTC
HALO = "2101000123A"
AURA = "2201000456B"
LUNA = "2301000789C"
OTHER = "2101000999Z"
EMAIL = "owner@example.com"
PASSWORD = "pw"
API_KEY = "key-123"
BROWSER = {
    "Origin": "https://my.charge.space",
    "Referer": "https://my.charge.space/userapp/dashboard",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/133.0",
}
FULL_POWER_KW = 16 * 3 * 230 / 1000  # 11.04 kW: 16 A on three phases at 230 V


@dataclass
class Cloud:
    """A running simulator, its clock, and an HTTP session to call it with."""

    sim: Simulator
    clock: ManualClock
    url: str
    http: aiohttp.ClientSession

    async def userapp_login(self, email: str = EMAIL, password: str = PASSWORD) -> str:
        body = {"email": email, "password": password, "hostName": "my.charge.space"}
        async with self.http.post(f"{self.url}/api/auth/login", json=body, headers=BROWSER) as response:
            assert response.status == 200, await response.text()
            return str((await response.json())["token"])

    async def official_login(self, email: str = EMAIL, api_key: str = API_KEY) -> dict[str, Any]:
        body = {"email": email, "password": PASSWORD}
        async with self.http.post(f"{self.url}/api/v5/auth/login", json=body, headers={"apiKey": api_key}) as response:
            assert response.status == 200, await response.text()
            data: dict[str, Any] = await response.json()
            return data

    async def call(
        self, method: str, path: str, token: str | None = None, *, json_body: Any = None, browser: bool = False
    ) -> tuple[int, Any]:
        """Status and parsed JSON body (or text, or None when empty)."""
        headers = dict(BROWSER) if browser else {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.request(method, f"{self.url}{path}", json=json_body, headers=headers) as response:
            text = await response.text()
            if not text:
                return response.status, None
            if response.content_type == "application/json":
                return response.status, json.loads(text)
            return response.status, text

    async def userapp(self, method: str, path: str, token: str, json_body: Any = None) -> tuple[int, Any]:
        return await self.call(method, path, token, json_body=json_body, browser=True)

    async def put_schedule(self, token: str, periods: list[dict[str, Any]], **fields: Any) -> tuple[int, Any]:
        body = {
            "scheduleId": None,
            "chargePointId": HALO,
            "connectorId": 1,
            "validFrom": None,
            "validTo": None,
            "defaultCurrent": 0,
            "isActive": True,
            "isSynced": True,
            "timeZone": "Europe/Amsterdam",
            "startOfSchedule": WEEK_START,
            "schedulePeriods": periods,
        }
        body.update(fields)
        return await self.userapp("PUT", "/api/smartChargingSchedules", token, body)

    async def official_connector_status(self, token: str, charge_point_id: str = HALO, number: int = 1) -> Any:
        status, body = await self.call("GET", f"/api/v5/chargepoints/{charge_point_id}/status", token)
        assert status == 200, body
        return next(c for c in body["connectorStatuses"] if c["connectorId"] == number)


@pytest.fixture
async def cloud() -> AsyncIterator[Cloud]:
    clock = ManualClock(START)
    sim = Simulator(clock, userapp_token_lifetime_s=3600, official_token_lifetime_s=7200)
    sim.add_account(email=EMAIL, password=PASSWORD, api_key=API_KEY)
    sim.add_account(email="neighbour@example.com", password="pw2", api_key="key-456")
    sim.add_charge_point(email=EMAIL, product="HALO", charge_point_id=HALO)
    sim.add_charge_point(email=EMAIL, product="AURA", charge_point_id=AURA)
    sim.add_charge_point(email=EMAIL, product="LUNA", charge_point_id=LUNA)
    sim.add_charge_point(email="neighbour@example.com", product="HALO", charge_point_id=OTHER)
    url = await sim.start()
    async with aiohttp.ClientSession() as http:
        yield Cloud(sim, clock, url, http)
    await sim.stop()


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, signature = token.split(".")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", signature)

    def decode(part: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return data

    return decode(header), decode(payload)


# Logins and tokens.


async def test_userapp_login_returns_a_jwt_that_expires_with_the_lifetime(cloud: Cloud) -> None:
    token = await cloud.userapp_login()
    header, claims = jwt_parts(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["iat"] == int(START.timestamp())
    assert claims["sub"]
    assert cloud.sim.logins(EMAIL) == 1


async def test_userapp_login_answers_the_user(cloud: Cloud) -> None:
    body = {"email": EMAIL, "password": PASSWORD, "hostName": "my.charge.space"}
    status, data = await cloud.call("POST", "/api/auth/login", json_body=body, browser=True)
    assert status == 200
    assert set(data) == {"token", "user"}
    assert data["user"]["email"] == EMAIL
    assert data["user"]["id"] == jwt_parts(data["token"])[1]["sub"]


@pytest.mark.parametrize(
    ("email", "password"), [(EMAIL, "wrong"), ("nobody@example.com", PASSWORD)], ids=["password", "email"]
)
async def test_userapp_login_refuses_wrong_credentials(cloud: Cloud, email: str, password: str) -> None:
    body = {"email": email, "password": password, "hostName": "my.charge.space"}
    status, _ = await cloud.call("POST", "/api/auth/login", json_body=body, browser=True)
    assert status == 401
    assert cloud.sim.logins(EMAIL) == 0


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Origin", None),
        ("Origin", "https://evil.example"),
        ("Referer", None),
        ("Referer", "https://my.charge.space/"),
        ("User-Agent", None),
        ("User-Agent", "python-requests/2.32"),
    ],
)
async def test_userapp_calls_need_browser_headers(cloud: Cloud, header: str, value: str | None) -> None:
    token = await cloud.userapp_login()
    headers = {**BROWSER, "Authorization": f"Bearer {token}"}
    headers.pop(header)
    if value is not None:
        headers[header] = value
    login_body = {"email": EMAIL, "password": PASSWORD, "hostName": "my.charge.space"}
    async with cloud.http.post(f"{cloud.url}/api/auth/login", json=login_body, headers=headers) as response:
        assert response.status == 403
    owned_url = f"{cloud.url}/api/users/chargepoints/owned"
    async with cloud.http.post(owned_url, json=[], headers=headers) as response:
        assert response.status == 403
    headers.update(BROWSER)
    async with cloud.http.post(owned_url, json=[], headers=headers) as response:
        assert response.status == 200


async def test_userapp_referer_may_be_the_login_page(cloud: Cloud) -> None:
    headers = {**BROWSER, "Referer": "https://my.charge.space/userapp/login"}
    body = {"email": EMAIL, "password": PASSWORD, "hostName": "my.charge.space"}
    async with cloud.http.post(f"{cloud.url}/api/auth/login", json=body, headers=headers) as response:
        assert response.status == 200


async def test_userapp_token_expires_on_the_injected_clock(cloud: Cloud) -> None:
    token = await cloud.userapp_login()
    await cloud.clock.advance(3599)
    assert (await cloud.userapp("POST", "/api/users/chargepoints/owned", token, []))[0] == 200
    await cloud.clock.advance(1)
    async with cloud.http.post(
        f"{cloud.url}/api/users/chargepoints/owned", json=[], headers={**BROWSER, "Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_official_login_needs_the_api_key(cloud: Cloud) -> None:
    data = await cloud.official_login()
    assert set(data) == {"message", "token", "user", "refreshToken"}
    assert set(data["user"]) == {"id", "firstName", "lastName", "email", "mobile", "rfidTags", "userStatus"}
    assert jwt_parts(data["token"])[1]["exp"] - int(START.timestamp()) == 7200
    body = {"email": EMAIL, "password": PASSWORD}
    for headers in ({"apiKey": "key-456"}, {}):
        async with cloud.http.post(f"{cloud.url}/api/v5/auth/login", json=body, headers=headers) as response:
            assert response.status == 401
    assert cloud.sim.logins(EMAIL) == 1


async def test_official_token_expires_on_the_injected_clock(cloud: Cloud) -> None:
    token = (await cloud.official_login())["token"]
    await cloud.clock.advance(7199)
    assert (await cloud.call("GET", "/api/v5/chargepoints/owned", token))[0] == 200
    await cloud.clock.advance(1)
    assert (await cloud.call("GET", "/api/v5/chargepoints/owned", token))[0] == 401


@pytest.mark.parametrize("kind", ["missing", "garbage", "tampered", "other_api"])
async def test_bad_tokens_get_401(cloud: Cloud, kind: str) -> None:
    userapp_token = await cloud.userapp_login()
    official_token = (await cloud.official_login())["token"]
    header, payload, signature = official_token.split(".")
    token = {
        "missing": None,
        "garbage": "not-a-token",
        "tampered": f"{header}.{payload}.{signature[:-2]}AA",
        "other_api": userapp_token,
    }[kind]
    assert (await cloud.call("GET", "/api/v5/chargepoints/owned", token))[0] == 401
    assert (await cloud.call("GET", "/api/v5/chargepoints/owned", official_token))[0] == 200


async def test_official_token_does_not_open_the_userapp(cloud: Cloud) -> None:
    official_token = (await cloud.official_login())["token"]
    assert (await cloud.userapp("POST", "/api/users/chargepoints/owned", official_token, []))[0] == 401


async def test_an_eleventh_login_evicts_the_oldest_token(cloud: Cloud) -> None:
    first = await cloud.userapp_login()
    others = [(await cloud.official_login())["token"] for _ in range(5)]
    others += [await cloud.userapp_login() for _ in range(4)]
    assert cloud.sim.live_tokens(EMAIL) == 10
    assert cloud.sim.evictions == []
    newest = await cloud.userapp_login()
    assert cloud.sim.logins(EMAIL) == 11
    assert cloud.sim.live_tokens(EMAIL) == 10
    assert [(e.email, e.audience, e.issued_at) for e in cloud.sim.evictions] == [(EMAIL, "userapp", START)]
    assert (await cloud.userapp("POST", "/api/users/chargepoints/owned", first, []))[0] == 401
    assert (await cloud.userapp("POST", "/api/users/chargepoints/owned", newest, []))[0] == 200
    assert (await cloud.call("GET", "/api/v5/chargepoints/owned", others[0]))[0] == 200


async def test_expired_userapp_tokens_free_their_slot(cloud: Cloud) -> None:
    for _ in range(10):
        await cloud.userapp_login()
    await cloud.clock.advance(3600)
    await cloud.userapp_login()
    assert cloud.sim.evictions == []
    assert cloud.sim.live_tokens(EMAIL) == 1


async def test_official_login_holds_its_slot_while_the_refresh_token_lives(cloud: Cloud) -> None:
    for _ in range(10):
        await cloud.official_login()
    await cloud.clock.advance(7200)  # every access token has expired, every refresh token still lives
    await cloud.official_login()
    assert len(cloud.sim.evictions) == 1


async def test_refresh_trades_an_expired_token_for_a_new_pair(cloud: Cloud) -> None:
    login = await cloud.official_login()
    await cloud.clock.advance(7200)
    assert (await cloud.call("GET", "/api/v5/chargepoints/owned", login["token"]))[0] == 401
    body = {"token": login["token"], "refreshToken": login["refreshToken"]}
    status, pair = await cloud.call("POST", "/api/v5/auth/refreshtoken", json_body=body)
    assert status == 200
    assert set(pair) == {"token", "refreshToken"}
    assert pair["refreshToken"] != login["refreshToken"]
    assert jwt_parts(pair["token"])[1]["exp"] == int((START + timedelta(seconds=14400)).timestamp())
    assert (await cloud.call("GET", "/api/v5/chargepoints/owned", pair["token"]))[0] == 200
    assert cloud.sim.logins(EMAIL) == 1
    assert cloud.sim.live_tokens(EMAIL) == 1
    status, error = await cloud.call(
        "POST", "/api/v5/auth/refreshtoken", json_body=body
    )  # refresh tokens are single-use
    assert status == 400
    assert error["messageCode"] == "INVALID_REFRESH_TOKEN"


async def test_refresh_token_expires_after_its_lifetime(cloud: Cloud) -> None:
    login = await cloud.official_login()
    await cloud.clock.advance(168 * 3600)
    body = {"token": login["token"], "refreshToken": login["refreshToken"]}
    assert (await cloud.call("POST", "/api/v5/auth/refreshtoken", json_body=body))[0] == 400


async def test_refresh_needs_the_matching_pair(cloud: Cloud) -> None:
    first = await cloud.official_login()
    second = await cloud.official_login()
    mixed = {"token": first["token"], "refreshToken": second["refreshToken"]}
    assert (await cloud.call("POST", "/api/v5/auth/refreshtoken", json_body=mixed))[0] == 400
    userapp = {"token": await cloud.userapp_login(), "refreshToken": first["refreshToken"]}
    assert (await cloud.call("POST", "/api/v5/auth/refreshtoken", json_body=userapp))[0] == 400


# Charge points and their shapes.

OPENAPI_CHARGE_POINT = {
    "id",
    "name",
    "password",
    "type",
    "isLoadbalanced",
    "firmwareVersion",
    "hardwareVersion",
    "ownerReadOnly",
    "ocppVersion",
    "settings",
    "connectors",
}
OPENAPI_CONNECTOR_STATUS = {
    "chargePointId",
    "connectorId",
    "totalConsumptionKwh",
    "chargingPowerKw",
    "sessionType",
    "status",
    "measurements",
    "startTime",
    "endTime",
    "sessionId",
}
OPENAPI_CONNECTOR_SETTINGS = {"chargePointId", "connectorId", "maxCurrent", "rfidLock", "mode", "cableLock"}


async def test_official_owned_lists_products_with_openapi_fields(cloud: Cloud) -> None:
    token = (await cloud.official_login())["token"]
    status, charge_points = await cloud.call("GET", "/api/v5/chargepoints/owned", token)
    assert status == 200
    by_id = {cp["id"]: cp for cp in charge_points}
    assert set(by_id) == {HALO, AURA, LUNA}
    for cp in charge_points:
        assert set(cp) == OPENAPI_CHARGE_POINT
        assert set(cp["settings"]) == {"id", "dimmer", "downLight", "maxCurrent"}
        for connector in cp["connectors"]:
            assert set(connector) == {"chargePointId", "connectorId", "type", "settings", "connectorUserId"}
            assert set(connector["settings"]) == OPENAPI_CONNECTOR_SETTINGS
    assert by_id[HALO]["ocppVersion"] is None
    assert [c["type"] for c in by_id[HALO]["connectors"]] == ["Charger", "Schuko"]
    assert by_id[AURA]["ocppVersion"] == "1.6"
    assert [c["type"] for c in by_id[AURA]["connectors"]] == ["Charger", "Charger"]
    assert by_id[LUNA]["settings"]["downLight"] is None
    assert by_id[HALO]["settings"]["downLight"] is True


async def test_userapp_owned_lists_connectors_with_readme_fields(cloud: Cloud) -> None:
    cloud.sim.plug_in_car(HALO, connector_id=1, max_current_a=16.0, phases=3)
    token = await cloud.userapp_login()
    path = "/api/users/chargepoints/owned?expand=ocppConfig,topChargingLimitation"
    status, charge_points = await cloud.userapp("POST", path, token, [])
    assert status == 200
    halo = next(cp for cp in charge_points if cp["id"] == HALO)
    assert {"id", "name", "serialNumber", "productName", "productType", "chargePointStatus", "isCharging"} <= set(halo)
    assert halo["chargePointStatus"] == "Online"
    assert halo["isCharging"] is True
    assert "ocppConfig" in halo
    assert "topChargingLimitation" in halo
    car_connector = halo["connectors"][0]
    readme_fields = {"connectorId", "name", "mode", "isCharging", "totalConsumptionKwh", "ocppStatus", "errorCode"}
    readme_fields |= {"enabled", "current1", "current2", "current3", "voltage1", "voltage2", "voltage3"}
    assert readme_fields <= set(car_connector)
    power_w = sum(car_connector[f"voltage{n}"] * car_connector[f"current{n}"] for n in (1, 2, 3))
    assert power_w / 1000 == pytest.approx(FULL_POWER_KW)
    assert car_connector["ocppStatus"] == "Charging"
    assert halo["connectors"][1]["ocppStatus"] == "Available"


async def test_userapp_owned_needs_a_json_array_body(cloud: Cloud) -> None:
    token = await cloud.userapp_login()
    assert (await cloud.userapp("POST", "/api/users/chargepoints/owned", token, {"x": 1}))[0] == 400


async def test_status_has_openapi_fields_and_measurements_only_while_charging(cloud: Cloud) -> None:
    cloud.sim.plug_in_car(AURA, connector_id=2, max_current_a=10.0, phases=1)
    token = (await cloud.official_login())["token"]
    status, body = await cloud.call("GET", f"/api/v5/chargepoints/{AURA}/status", token)
    assert status == 200
    assert set(body) == {"id", "status", "connectorStatuses"}
    assert body["status"] == "Online"
    idle, charging = body["connectorStatuses"]
    for connector in (idle, charging):
        assert set(connector) == OPENAPI_CONNECTOR_STATUS
    assert idle["status"] == "Available"
    assert idle["measurements"] is None
    assert charging["status"] == "Charging"
    assert charging["sessionType"] == "OnePhase"
    assert charging["measurements"] == [{"phase": "L1", "current": 10.0, "voltage": 230.0}]
    assert charging["chargingPowerKw"] == pytest.approx(2.3)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/api/v5/chargepoints/{OTHER}/status", None),
        ("GET", f"/api/v5/chargepoints/{OTHER}/connectors/1/settings", None),
        ("PUT", f"/api/v5/chargepoints/{OTHER}/connectors/1/remotestop", None),
        ("GET", f"/api/v5/chargepoints/{OTHER}/chargingsessions", None),
    ],
)
async def test_official_refuses_other_accounts_charge_points(cloud: Cloud, method: str, path: str, body: Any) -> None:
    token = (await cloud.official_login())["token"]
    assert (await cloud.call(method, path, token, json_body=body))[0] == 403
    assert (await cloud.call(method, path.replace(OTHER, "0000000000X"), token, json_body=body))[0] == 404


async def test_unknown_connector_is_404(cloud: Cloud) -> None:
    token = (await cloud.official_login())["token"]
    assert (await cloud.call("GET", f"/api/v5/chargepoints/{LUNA}/connectors/2/settings", token))[0] == 404


async def test_userapp_refuses_other_accounts_charge_points(cloud: Cloud) -> None:
    token = await cloud.userapp_login()
    assert (await cloud.userapp("GET", f"/api/smartChargingSchedules/chargepoint/{OTHER}", token))[0] == 403
    assert (await cloud.put_schedule(token, [], chargePointId=OTHER))[0] == 403
    assert (await cloud.userapp("DELETE", f"/api/smartChargingSchedules/{OTHER}/1", token))[0] == 403
    assert (await cloud.put_schedule(token, [], chargePointId="0000000000X"))[0] == 404
    assert cloud.sim.schedules == {}


# Schedules.

VENDOR_MESSAGE = "Periods From value can not exceed 604800"


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ({"from": 604801, "to": 604900, "maxCurrent": 16}, VENDOR_MESSAGE),
        ({"from": 0, "to": 604801, "maxCurrent": 16}, "Periods To value can not exceed 604800"),
        ({"from": 7200, "to": 7200, "maxCurrent": 16}, "Periods From value must be less than To value"),
        ({"from": 9000, "to": 7200, "maxCurrent": 16}, "Periods From value must be less than To value"),
        ({"from": -1, "to": 7200, "maxCurrent": 16}, "Periods From and To values can not be negative"),
        ({"from": 7200.0, "to": 14400, "maxCurrent": 16}, "Periods From and To values must be whole seconds"),
        ({"from": 0, "to": 3600, "maxCurrent": 5}, "Periods MaxCurrent value must be 0 or between 6 and 32"),
        ({"from": 0, "to": 3600, "maxCurrent": 33}, "Periods MaxCurrent value must be 0 or between 6 and 32"),
        ({"from": 0, "to": 3600}, "Periods MaxCurrent value must be 0 or between 6 and 32"),
    ],
)
async def test_put_schedule_rejects_invalid_periods_with_the_vendor_message(
    cloud: Cloud, period: dict[str, Any], message: str
) -> None:
    token = await cloud.userapp_login()
    status, body = await cloud.put_schedule(token, [period])
    assert status == 400
    assert body == {"error": message, "messageCode": "SCHEDULE_INVALID_DATA"}
    assert cloud.sim.schedules == {}
    assert cloud.sim.connector(HALO, 1).mode == "On"


@pytest.mark.parametrize(
    "fields",
    [
        {"startOfSchedule": None},
        {"startOfSchedule": "2026-11-23T00:00:00"},
        {"schedulePeriods": [{"from": 0, "to": 7200, "maxCurrent": 16}, {"from": 3600, "to": 9000, "maxCurrent": 16}]},
        {"connectorId": "1"},
    ],
    ids=["no-start", "naive-start", "overlap", "string-connector"],
)
async def test_put_schedule_rejects_invalid_bodies(cloud: Cloud, fields: dict[str, Any]) -> None:
    token = await cloud.userapp_login()
    status, body = await cloud.put_schedule(token, [], **fields)
    assert status == 400
    assert body["messageCode"] == "SCHEDULE_INVALID_DATA"


async def test_put_schedule_accepts_the_edges_of_the_week(cloud: Cloud) -> None:
    token = await cloud.userapp_login()
    periods = [
        {"from": 0, "to": 3600, "maxCurrent": 0},
        {"from": 3600, "to": 7200, "maxCurrent": 6},
        {"from": 600000, "to": 604800, "maxCurrent": 32},
    ]
    status, body = await cloud.put_schedule(token, periods, startOfSchedule="2026-11-23T00:00:00+01:00")
    assert status == 200
    assert body["schedulePeriods"] == [
        {"from": p["from"], "to": p["to"], "maxCurrent": p["maxCurrent"]} for p in periods
    ]
    assert body["startOfSchedule"] == WEEK_START


async def test_every_put_gets_a_new_schedule_id_and_replaces_the_schedule(cloud: Cloud) -> None:
    token = await cloud.userapp_login()
    status, first = await cloud.put_schedule(token, [{"from": 7200, "to": 14400, "maxCurrent": 16.0}])
    assert status == 200
    status, second = await cloud.put_schedule(token, [{"from": 0, "to": 3600, "maxCurrent": 10.0}])
    assert status == 200
    assert first["scheduleId"] is not None
    assert second["scheduleId"] != first["scheduleId"]
    assert second["isSynced"] is True
    assert second["isActive"] is True
    status, listed = await cloud.userapp("GET", f"/api/smartChargingSchedules/chargepoint/{HALO}", token)
    assert status == 200
    assert listed == [second]
    stored = cloud.sim.schedules[(HALO, 1)]
    assert stored.schedule_id == second["scheduleId"]
    assert stored["schedulePeriods"] == [{"from": 0, "to": 3600, "maxCurrent": 10.0}]


async def test_put_switches_the_connector_to_schedule_mode_and_delete_removes_it(cloud: Cloud) -> None:
    token = await cloud.userapp_login()
    official = (await cloud.official_login())["token"]
    await cloud.put_schedule(token, [{"from": 7200, "to": 14400, "maxCurrent": 16.0}])
    status, settings = await cloud.call("GET", f"/api/v5/chargepoints/{HALO}/connectors/1/settings", official)
    assert status == 200
    assert settings["mode"] == "Schedule"
    assert settings["installationCurrent"] == 16
    assert (await cloud.userapp("DELETE", f"/api/smartChargingSchedules/{HALO}/1", token))[0] == 200
    assert cloud.sim.schedules == {}
    assert (await cloud.userapp("GET", f"/api/smartChargingSchedules/chargepoint/{HALO}", token)) == (200, [])


# The car.


async def test_car_charges_inside_a_schedule_period_and_not_outside(cloud: Cloud) -> None:
    cloud.sim.plug_in_car(HALO, connector_id=1, max_current_a=16.0, phases=3)
    token = await cloud.userapp_login()
    # 12:00-14:00 Amsterdam on Mondays = 11:00-13:00 UTC; the clock starts at 10:00 UTC.
    await cloud.put_schedule(token, [{"from": 12 * 3600, "to": 14 * 3600, "maxCurrent": 16.0}])
    official = (await cloud.official_login())["token"]

    before = await cloud.official_connector_status(official)
    assert before["status"] == "Connected"
    assert before["chargingPowerKw"] == 0
    assert before["measurements"] is None

    await cloud.clock.advance(90 * 60)  # 11:30 UTC, half an hour into the period
    inside = await cloud.official_connector_status(official)
    assert inside["status"] == "Charging"
    assert inside["chargingPowerKw"] == pytest.approx(FULL_POWER_KW)
    assert inside["totalConsumptionKwh"] == pytest.approx(FULL_POWER_KW / 2)
    assert len(inside["measurements"]) == 3

    await cloud.clock.advance(2 * 3600)  # 13:30 UTC, after the period
    official = (await cloud.official_login())["token"]  # the first token has expired by now
    after = await cloud.official_connector_status(official)
    assert after["status"] == "Connected"
    assert after["chargingPowerKw"] == 0
    assert after["totalConsumptionKwh"] == pytest.approx(2 * FULL_POWER_KW)

    await cloud.clock.advance(7 * 24 * 3600)  # the week repeats
    official = (await cloud.official_login())["token"]
    assert (await cloud.official_connector_status(official))["totalConsumptionKwh"] == pytest.approx(4 * FULL_POWER_KW)
    assert cloud.sim.connector(HALO, 1).session_energy_kwh == pytest.approx(4 * FULL_POWER_KW)


async def test_energy_is_exact_when_one_clock_jump_spans_a_whole_period(cloud: Cloud) -> None:
    cloud.sim.plug_in_car(HALO, connector_id=1, max_current_a=16.0, phases=3)
    token = await cloud.userapp_login()
    await cloud.put_schedule(token, [{"from": 12 * 3600, "to": 12 * 3600 + 1800, "maxCurrent": 10.0}])
    await cloud.clock.advance(5 * 3600)
    connector = cloud.sim.connector(HALO, 1)
    assert connector.total_consumption_kwh == pytest.approx(10 * 3 * 230 / 1000 / 2)
    assert connector.power_kw == 0


async def test_a_period_split_across_the_end_of_the_week_charges_without_a_gap(cloud: Cloud) -> None:
    cloud.clock.set(datetime(2026, 11, 29, 22, 0, tzinfo=UTC))  # Sunday 23:00 Amsterdam
    cloud.sim.plug_in_car(HALO, connector_id=1)
    token = await cloud.userapp_login()
    periods = [{"from": 604800 - 3600, "to": 604800, "maxCurrent": 16}, {"from": 0, "to": 3600, "maxCurrent": 16}]
    await cloud.put_schedule(token, periods)
    await cloud.clock.advance(3 * 3600)
    assert cloud.sim.connector(HALO, 1).total_consumption_kwh == pytest.approx(2 * FULL_POWER_KW)


@pytest.mark.parametrize(
    ("period_current_a", "car_max_a", "expected_a"),
    [(10.0, 16.0, 10.0), (16.0, 6.0, 6.0), (32.0, 32.0, 16.0), (0.0, 16.0, 0.0)],
    ids=["period-limits", "car-limits", "installation-limits", "pause"],
)
async def test_charging_current_is_the_lowest_limit(
    cloud: Cloud, period_current_a: float, car_max_a: float, expected_a: float
) -> None:
    cloud.sim.plug_in_car(HALO, connector_id=1, max_current_a=car_max_a, phases=3)
    token = await cloud.userapp_login()
    await cloud.put_schedule(token, [{"from": 0, "to": 604800, "maxCurrent": period_current_a}])
    assert cloud.sim.connector(HALO, 1).current_a == expected_a
    assert cloud.sim.connector(HALO, 1).power_kw == pytest.approx(expected_a * 3 * 230 / 1000)


@pytest.mark.parametrize(
    "fields",
    [
        {"isActive": False},
        {"validTo": "2026-11-23T09:00:00Z"},
        {"validFrom": "2026-11-24T00:00:00Z"},
    ],
    ids=["inactive", "expired", "not-yet-valid"],
)
async def test_a_schedule_out_of_force_does_not_charge(cloud: Cloud, fields: dict[str, Any]) -> None:
    cloud.sim.plug_in_car(HALO, connector_id=1)
    token = await cloud.userapp_login()
    await cloud.put_schedule(token, [{"from": 0, "to": 604800, "maxCurrent": 16}], **fields)
    await cloud.clock.advance(3600)
    assert cloud.sim.connector(HALO, 1).total_consumption_kwh == 0


async def test_valid_from_starts_charging_at_that_moment(cloud: Cloud) -> None:
    cloud.sim.plug_in_car(HALO, connector_id=1)
    token = await cloud.userapp_login()
    await cloud.put_schedule(token, [{"from": 0, "to": 604800, "maxCurrent": 16}], validFrom="2026-11-23T11:00:00Z")
    await cloud.clock.advance(2 * 3600)
    assert cloud.sim.connector(HALO, 1).total_consumption_kwh == pytest.approx(FULL_POWER_KW)


async def test_mode_and_remote_stop_start_control_charging(cloud: Cloud) -> None:
    cloud.sim.plug_in_car(AURA, connector_id=1, max_current_a=16.0, phases=3)
    token = (await cloud.official_login())["token"]
    settings_path = f"/api/v5/chargepoints/{AURA}/connectors/1/settings"
    assert (await cloud.official_connector_status(token, AURA))["status"] == "Charging"

    off = {
        "chargePointId": AURA,
        "connectorId": 1,
        "maxCurrent": 16,
        "rfidLock": False,
        "mode": "Off",
        "cableLock": True,
    }
    assert (await cloud.call("PUT", settings_path, token, json_body=off))[0] == 200
    assert (await cloud.official_connector_status(token, AURA))["status"] == "SuspendedEVSE"
    status, settings = await cloud.call("GET", settings_path, token)
    assert (status, settings["mode"], settings["cableLock"]) == (200, "Off", True)

    assert (await cloud.call("PUT", settings_path, token, json_body={**off, "mode": "On", "maxCurrent": 10}))[0] == 200
    assert cloud.sim.connector(AURA, 1).current_a == 10.0
    assert (await cloud.call("PUT", f"/api/v5/chargepoints/{AURA}/connectors/1/remotestop", token))[0] == 200
    assert cloud.sim.connector(AURA, 1).current_a == 0
    start_auth = {"rfidLength": 4, "rfidFormat": "Hex", "rfid": "0A1B2C3D", "externalTransactionId": None}
    remote_start = f"/api/v5/chargepoints/{AURA}/connectors/1/remotestart"
    assert (await cloud.call("PUT", remote_start, token, json_body=start_auth))[0] == 200
    assert cloud.sim.connector(AURA, 1).current_a == 10.0


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "Sometimes"},
        {"mode": "On", "maxCurrent": 3},
        {"mode": "On", "connectorId": 2},
        {"mode": "On", "cableLock": "yes"},
        ["On"],
    ],
)
async def test_connector_settings_reject_invalid_bodies(cloud: Cloud, body: Any) -> None:
    token = (await cloud.official_login())["token"]
    path = f"/api/v5/chargepoints/{AURA}/connectors/1/settings"
    assert (await cloud.call("PUT", path, token, json_body=body))[0] == 400
    assert cloud.sim.connector(AURA, 1).mode == "On"


async def test_a_full_car_stops_and_sessions_record_the_energy(cloud: Cloud) -> None:
    cloud.sim.plug_in_car(AURA, connector_id=1, max_current_a=16.0, phases=3, energy_needed_kwh=5.0)
    token = (await cloud.official_login())["token"]
    await cloud.clock.advance(3600)
    assert (await cloud.official_connector_status(token, AURA))["status"] == "SuspendedEV"
    cloud.sim.unplug_car(AURA, 1)
    cloud.sim.plug_in_car(AURA, connector_id=1, max_current_a=16.0, phases=3)
    await cloud.clock.advance(1800)
    status, sessions = await cloud.call("GET", f"/api/v5/chargepoints/{AURA}/chargingsessions", token)
    assert status == 200
    assert [s["totalConsumptionKwh"] for s in sessions] == [pytest.approx(FULL_POWER_KW / 2), pytest.approx(5.0)]
    assert sessions[1]["endTime"] == "2026-11-23T11:00:00Z"
    assert sessions[0]["endTime"] is None
    assert sessions[0]["sessionType"] == "ThreePhase"
    path = f"/api/v5/chargepoints/{AURA}/connectors/1/chargingsessions?maxCount=1"
    status, latest = await cloud.call("GET", path, token)
    assert [s["id"] for s in latest] == [sessions[0]["id"]]


# Faults.

STATUS_ROUTE = "GET /api/v5/chargepoints/{id}/status"


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (Fault.UNAUTHORIZED, 401),
        (Fault.FORBIDDEN, 403),
        (Fault.RATE_LIMITED, 429),
        (Fault.SERVER_ERROR, 502),
        (Fault.MALFORMED_JSON, 200),
    ],
)
async def test_a_once_fault_strikes_the_next_request_only(cloud: Cloud, fault: Fault, status: int) -> None:
    token = (await cloud.official_login())["token"]
    rule = cloud.sim.inject(STATUS_ROUTE, fault, mode=FaultMode.ONCE)
    async with cloud.http.get(
        f"{cloud.url}/api/v5/chargepoints/{HALO}/status", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status == status
        if fault is Fault.MALFORMED_JSON:
            assert response.content_type == "application/json"
            with pytest.raises(json.JSONDecodeError):
                json.loads(await response.text())
    assert (await cloud.call("GET", f"/api/v5/chargepoints/{HALO}/status", token))[0] == 200
    assert rule.fired == 1
    assert cloud.sim.faults == []
    assert [e.fault for e in cloud.sim.requests(STATUS_ROUTE)] == [fault, None]


async def test_server_error_has_an_html_body_and_a_chosen_status(cloud: Cloud) -> None:
    cloud.sim.inject("PUT /api/smartChargingSchedules", Fault.SERVER_ERROR, mode=FaultMode.ONCE, status=503)
    token = await cloud.userapp_login()
    status, body = await cloud.put_schedule(token, [])
    assert status == 503
    assert "<html>" in body
    assert cloud.sim.schedules == {}


async def test_every_nth_fault_with_retry_after(cloud: Cloud) -> None:
    cloud.sim.inject("POST /api/auth/login", Fault.RATE_LIMITED, mode=FaultMode.EVERY_NTH, n=3, retry_after_s=2)
    body = {"email": EMAIL, "password": PASSWORD, "hostName": "my.charge.space"}
    statuses, retry_after = [], []
    for _ in range(6):
        async with cloud.http.post(f"{cloud.url}/api/auth/login", json=body, headers=BROWSER) as response:
            statuses.append(response.status)
            retry_after.append(response.headers.get("Retry-After"))
    assert statuses == [200, 200, 429, 200, 200, 429]
    assert retry_after == [None, None, "2", None, None, "2"]
    assert cloud.sim.logins(EMAIL) == 4


async def test_always_fault_lasts_until_cleared(cloud: Cloud) -> None:
    token = (await cloud.official_login())["token"]
    cloud.sim.inject("GET /api/v5/chargepoints/owned", Fault.FORBIDDEN, mode=FaultMode.ALWAYS)
    for _ in range(3):
        assert (await cloud.call("GET", "/api/v5/chargepoints/owned", token))[0] == 403
    cloud.sim.clear_faults()
    assert (await cloud.call("GET", "/api/v5/chargepoints/owned", token))[0] == 200


async def test_slow_fault_trips_the_client_timeout_then_answers(cloud: Cloud) -> None:
    token = (await cloud.official_login())["token"]
    cloud.sim.inject(STATUS_ROUTE, Fault.SLOW, mode=FaultMode.ONCE, delay_s=0.3)
    url = f"{cloud.url}/api/v5/chargepoints/{HALO}/status"
    headers = {"Authorization": f"Bearer {token}"}
    with pytest.raises(asyncio.TimeoutError):
        async with cloud.http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=0.05)):
            pass
    assert cloud.sim.requests(STATUS_ROUTE)[0].fault is Fault.SLOW
    cloud.sim.inject(STATUS_ROUTE, Fault.SLOW, mode=FaultMode.ONCE, delay_s=0.1)
    started = time.monotonic()
    async with cloud.http.get(url, headers=headers) as response:
        assert response.status == 200
    assert time.monotonic() - started >= 0.1


async def test_stop_cuts_a_slow_answer_short(cloud: Cloud) -> None:
    cloud.sim.inject("*", Fault.SLOW, mode=FaultMode.ALWAYS, delay_s=30)
    request = asyncio.create_task(cloud.call("GET", "/api/v5/chargepoints/owned"))
    while not cloud.sim.request_log:
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await cloud.sim.stop()
    done, _ = await asyncio.wait({request}, timeout=5)
    assert request in done
    assert time.monotonic() - started < 5
    assert request.result()[0] == 401  # released early, then answered (this call carries no token)


async def test_drop_fault_closes_the_connection(cloud: Cloud) -> None:
    cloud.sim.inject("POST /api/v5/auth/login", Fault.DROP, mode=FaultMode.ONCE)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await cloud.official_login()
    await cloud.official_login()
    dropped, answered = cloud.sim.requests("POST /api/v5/auth/login")
    assert (dropped.fault, dropped.status) == (Fault.DROP, None)
    assert answered.status == 200
    assert cloud.sim.logins(EMAIL) == 1


async def test_aiohttp_retries_an_idempotent_request_once_after_a_drop(cloud: Cloud) -> None:
    # Worth knowing when testing a client: a single DROP on GET/PUT/DELETE never reaches aiohttp's caller.
    token = (await cloud.official_login())["token"]
    cloud.sim.inject(STATUS_ROUTE, Fault.DROP, mode=FaultMode.ONCE)
    assert (await cloud.call("GET", f"/api/v5/chargepoints/{HALO}/status", token))[0] == 200
    assert [e.status for e in cloud.sim.requests(STATUS_ROUTE)] == [None, 200]


async def test_an_always_drop_reaches_a_pooled_client(cloud: Cloud) -> None:
    token = (await cloud.official_login())["token"]
    cloud.sim.inject(STATUS_ROUTE, Fault.DROP, mode=FaultMode.ALWAYS)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await cloud.call("GET", f"/api/v5/chargepoints/{HALO}/status", token)
    assert all(e.status is None for e in cloud.sim.requests(STATUS_ROUTE))


async def test_numeric_status_fault_sends_codes_instead_of_names(cloud: Cloud) -> None:
    cloud.sim.plug_in_car(AURA, connector_id=1)
    official = (await cloud.official_login())["token"]
    userapp = await cloud.userapp_login()
    await cloud.put_schedule(userapp, [{"from": 0, "to": 60, "maxCurrent": 16}])  # HALO connector 1 → Schedule
    cloud.sim.inject("*", Fault.NUMERIC_STATUS, mode=FaultMode.ALWAYS)

    _, charge_points = await cloud.userapp("POST", "/api/users/chargepoints/owned", userapp, [])
    halo = next(cp for cp in charge_points if cp["id"] == HALO)
    assert halo["connectors"][0]["mode"] == 2
    assert halo["connectors"][0]["ocppStatus"] == 0
    assert halo["chargePointStatus"] == 0
    _, status = await cloud.call("GET", f"/api/v5/chargepoints/{AURA}/status", official)
    assert status["status"] == 0
    assert status["connectorStatuses"][0]["status"] == 2  # OCPP Charging
    _, settings = await cloud.call("GET", f"/api/v5/chargepoints/{AURA}/connectors/1/settings", official)
    assert settings["mode"] == 1

    cloud.sim.clear_faults()
    _, settings = await cloud.call("GET", f"/api/v5/chargepoints/{AURA}/connectors/1/settings", official)
    assert settings["mode"] == "On"


async def test_fault_keys_match_any_placeholder_name(cloud: Cloud) -> None:
    token = (await cloud.official_login())["token"]
    cloud.sim.inject("get /api/v5/chargepoints/{chargePointId}/status", Fault.UNAUTHORIZED)
    assert (await cloud.call("GET", f"/api/v5/chargepoints/{HALO}/status", token))[0] == 401


def test_injecting_on_an_unknown_route_fails_loudly() -> None:
    sim = Simulator(ManualClock(START))
    with pytest.raises(ValueError, match="no route"):
        sim.inject("GET /api/v5/chargepoint/{id}/status", Fault.DROP)
    with pytest.raises(ValueError, match="n >= 1"):
        sim.inject(STATUS_ROUTE, Fault.DROP, mode=FaultMode.EVERY_NTH, n=0)


# The request log.


async def test_request_log_records_every_request_with_its_route_template(cloud: Cloud) -> None:
    token = await cloud.userapp_login()
    await cloud.clock.advance(60)
    await cloud.put_schedule(token, [{"from": 0, "to": 3600, "maxCurrent": 16}])
    await cloud.userapp("DELETE", f"/api/smartChargingSchedules/{HALO}/1", token)
    await cloud.userapp("GET", f"/api/smartChargingSchedules/chargepoint/{HALO}?x=1", token)
    await cloud.call("GET", "/api/v5/nothing/here")

    log = cloud.sim.request_log
    assert [e.route for e in log] == [
        "POST /api/auth/login",
        "PUT /api/smartChargingSchedules",
        "DELETE /api/smartChargingSchedules/{chargePointId}/{connectorId}",
        "GET /api/smartChargingSchedules/chargepoint/{chargePointId}",
        "GET (unmatched)",
    ]
    assert [e.status for e in log] == [200, 200, 200, 200, 404]
    assert log[0].json_body == {"email": EMAIL, "password": "***", "hostName": "my.charge.space"}
    assert log[0].at == START
    assert log[1].at == START + timedelta(seconds=60)
    assert log[1].json_body["schedulePeriods"] == [{"from": 0, "to": 3600, "maxCurrent": 16}]
    assert log[2].path == f"/api/smartChargingSchedules/{HALO}/1"
    assert log[3].query == {"x": "1"}
    assert log[3].json_body is None
    assert [e.route for e in cloud.sim.writes()] == [
        "PUT /api/smartChargingSchedules",
        "DELETE /api/smartChargingSchedules/{chargePointId}/{connectorId}",
    ]


async def test_faulted_and_refused_requests_are_logged(cloud: Cloud) -> None:
    cloud.sim.inject("PUT /api/smartChargingSchedules", Fault.RATE_LIMITED)
    token = await cloud.userapp_login()
    await cloud.put_schedule(token, [])
    await cloud.call("POST", "/api/users/chargepoints/owned", token, json_body=[])  # no browser headers
    writes = cloud.sim.writes()
    assert [(e.route, e.status, e.fault) for e in writes] == [
        ("PUT /api/smartChargingSchedules", 429, Fault.RATE_LIMITED),
        ("POST /api/users/chargepoints/owned", 403, None),
    ]


async def test_refresh_log_entries_hide_the_tokens(cloud: Cloud) -> None:
    login = await cloud.official_login()
    body = {"token": login["token"], "refreshToken": login["refreshToken"]}
    await cloud.call("POST", "/api/v5/auth/refreshtoken", json_body=body)
    logged = cloud.sim.requests("POST /api/v5/auth/refreshtoken")[0]
    assert logged.json_body == {"token": "***", "refreshToken": "***"}
    assert cloud.sim.writes() == []


# The demo entry point.


async def test_serve_forever_runs_a_demo_cloud_until_cancelled(capsys: pytest.CaptureFixture[str]) -> None:
    server = asyncio.create_task(serve_forever("127.0.0.1", 0))
    printed = ""
    for _ in range(200):
        printed += capsys.readouterr().out
        if "api key" in printed:
            break
        await asyncio.sleep(0.01)
    match = re.search(r"http://127\.0\.0\.1:\d+", printed)
    assert match is not None, printed
    assert DEMO_EMAIL in printed
    assert DEMO_PASSWORD in printed
    assert DEMO_API_KEY in printed
    async with aiohttp.ClientSession() as http:
        login_body = {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
        url = match.group(0)
        async with http.post(f"{url}/api/v5/auth/login", json=login_body, headers={"apiKey": DEMO_API_KEY}) as response:
            token = (await response.json())["token"]
        status_url = f"{url}/api/v5/chargepoints/{DEMO_CHARGE_POINT_ID}/status"
        async with http.get(status_url, headers={"Authorization": f"Bearer {token}"}) as response:
            status = await response.json()
    assert status["connectorStatuses"][0]["status"] == "Charging"
    server.cancel()
    with pytest.raises(asyncio.CancelledError):
        await server


async def test_changing_a_connector_directly_settles_its_meter_first(cloud: Cloud) -> None:
    cloud.sim.plug_in_car(HALO, connector_id=1)
    connector = cloud.sim.connector(HALO, 1)
    await cloud.clock.advance(1800)
    connector.mode = "Off"
    await cloud.clock.advance(1800)
    connector.max_current_a = 8.0
    connector.mode = "On"
    await cloud.clock.advance(3600)
    assert connector.total_consumption_kwh == pytest.approx(FULL_POWER_KW / 2 + 8 * 3 * 230 / 1000)
