"""Simulator features for read-back tests: late answers, the owner's app editing behind the agent's back,
error answers that echo the request, whole-object settings writes, short token lifetimes, defaultCurrent."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from energy_agent.testing import ManualClock
from energy_agent_chargeamps.simulator import Fault, FaultRule, Simulator

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, 11:00 in Amsterdam
WEEK_START = "2026-11-22T23:00:00Z"  # Monday 00:00 Europe/Amsterdam, written in UTC
HALO = "2101000123A"
AURA = "2201000456B"
EMAIL = "owner@example.com"
PASSWORD = 'pa"ss\\word'
API_KEY = "key-123"
BROWSER = {
    "Origin": "https://my.charge.space",
    "Referer": "https://my.charge.space/userapp/dashboard",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/133.0",
}
PUT_ROUTE = "PUT /api/smartChargingSchedules"
SETTINGS_ROUTE = "PUT /api/v5/chargepoints/{id}/connectors/{c}/settings"


@dataclass
class Cloud:
    sim: Simulator
    clock: ManualClock
    url: str
    http: aiohttp.ClientSession

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        json_body: Any = None,
        browser: bool = True,
        timeout_s: float | None = None,
    ) -> tuple[int, Any]:
        headers = dict(BROWSER) if browser else {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with self.http.request(
            method, f"{self.url}{path}", json=json_body, headers=headers, timeout=timeout
        ) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text else None)

    async def userapp_token(self) -> str:
        body = {"email": EMAIL, "password": PASSWORD, "hostName": "my.charge.space"}
        status, data = await self.call("POST", "/api/auth/login", json_body=body)
        assert status == 200, data
        return str(data["token"])

    async def official_token(self) -> str:
        async with self.http.post(
            f"{self.url}/api/v5/auth/login", json={"email": EMAIL, "password": PASSWORD}, headers={"apiKey": API_KEY}
        ) as response:
            assert response.status == 200
            return str((await response.json())["token"])


@pytest.fixture
async def cloud() -> AsyncIterator[Cloud]:
    clock = ManualClock(START)
    sim = Simulator(clock)
    sim.add_account(email=EMAIL, password=PASSWORD, api_key=API_KEY)
    sim.add_charge_point(email=EMAIL, product="HALO", charge_point_id=HALO)
    sim.add_charge_point(email=EMAIL, product="AURA", charge_point_id=AURA)
    url = await sim.start()
    async with aiohttp.ClientSession() as http:
        yield Cloud(sim, clock, url, http)
    await sim.stop()


def schedule_body(periods: list[dict[str, Any]]) -> dict[str, Any]:
    return {
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


# --- a slow answer that completes ------------------------------------------------------------------------------


async def test_late_answer_applies_the_write_before_the_client_gives_up(cloud: Cloud) -> None:
    token = await cloud.userapp_token()
    cloud.sim.inject(PUT_ROUTE, Fault.LATE_ANSWER, delay_s=5.0)
    body = schedule_body([{"from": 0, "to": 3600, "maxCurrent": 10}])
    with pytest.raises(asyncio.TimeoutError):
        await cloud.call("PUT", "/api/smartChargingSchedules", token, json_body=body, timeout_s=0.1)
    # The client saw a timeout; the cloud holds the schedule all the same.
    stored = cloud.sim.schedules[(HALO, 1)]
    assert [p.to_json() for p in stored.periods] == [{"from": 0, "to": 3600, "maxCurrent": 10.0}]
    assert cloud.sim.connector(HALO, 1).mode == "Schedule"
    assert cloud.sim.requests(PUT_ROUTE)[0].fault is Fault.LATE_ANSWER


async def test_late_answer_completes_for_a_patient_client(cloud: Cloud) -> None:
    token = await cloud.userapp_token()
    cloud.sim.inject(PUT_ROUTE, Fault.LATE_ANSWER, delay_s=0.1)
    started = time.monotonic()
    status, data = await cloud.call(
        "PUT", "/api/smartChargingSchedules", token, json_body=schedule_body([{"from": 0, "to": 60, "maxCurrent": 6}])
    )
    assert status == 200
    assert data["scheduleId"] == cloud.sim.schedules[(HALO, 1)].schedule_id
    assert time.monotonic() - started >= 0.1


async def test_slow_delays_before_applying(cloud: Cloud) -> None:
    """SLOW holds the request before the API sees it: at the client's timeout nothing is stored yet."""
    token = await cloud.userapp_token()
    cloud.sim.inject(PUT_ROUTE, Fault.SLOW, delay_s=0.5)
    body = schedule_body([{"from": 0, "to": 3600, "maxCurrent": 10}])
    with pytest.raises(asyncio.TimeoutError):
        await cloud.call("PUT", "/api/smartChargingSchedules", token, json_body=body, timeout_s=0.1)
    assert (HALO, 1) not in cloud.sim.schedules


# --- the owner's phone app ---------------------------------------------------------------------------------------


async def test_app_replaces_and_deletes_a_schedule_behind_the_clients_back(cloud: Cloud) -> None:
    token = await cloud.userapp_token()
    status, written = await cloud.call(
        "PUT", "/api/smartChargingSchedules", token, json_body=schedule_body([{"from": 0, "to": 60, "maxCurrent": 6}])
    )
    assert status == 200

    replaced = cloud.sim.app_store_schedule(HALO, 1, [(7200, 10800, 13.0)], default_current_a=0.0)
    status, listed = await cloud.call("GET", f"/api/smartChargingSchedules/chargepoint/{HALO}", token)
    assert status == 200
    assert listed == [replaced.to_json()]
    assert listed[0]["scheduleId"] != written["scheduleId"]
    assert listed[0]["startOfSchedule"] == WEEK_START  # this week's Monday 00:00 in Amsterdam
    assert listed[0]["schedulePeriods"] == [{"from": 7200, "to": 10800, "maxCurrent": 13.0}]

    cloud.sim.app_delete_schedule(HALO, 1)
    assert await cloud.call("GET", f"/api/smartChargingSchedules/chargepoint/{HALO}", token) == (200, [])


async def test_app_changes_connector_settings_the_official_api_reads(cloud: Cloud) -> None:
    token = await cloud.official_token()
    cloud.sim.app_change_settings(AURA, 1, cable_lock=True, rfid_lock=True, max_current_a=10)
    status, settings = await cloud.call(
        "GET", f"/api/v5/chargepoints/{AURA}/connectors/1/settings", token, browser=False
    )
    assert status == 200
    assert (settings["cableLock"], settings["rfidLock"], settings["maxCurrent"], settings["mode"]) == (
        True,
        True,
        10,
        "On",
    )


async def test_a_settings_put_replaces_the_settings_whole(cloud: Cloud) -> None:
    """CreateConnectorSettings has plain booleans: a lock left out of the PUT is written as false."""
    token = await cloud.official_token()
    cloud.sim.app_change_settings(AURA, 1, cable_lock=True, rfid_lock=True)
    path = f"/api/v5/chargepoints/{AURA}/connectors/1/settings"
    assert (await cloud.call("PUT", path, token, json_body={"mode": "Off", "maxCurrent": 16}, browser=False))[0] == 200
    connector = cloud.sim.connector(AURA, 1)
    assert (connector.mode, connector.cable_lock, connector.rfid_lock) == ("Off", False, False)
    whole = {"mode": "On", "maxCurrent": 10, "cableLock": True, "rfidLock": True}
    assert (await cloud.call("PUT", path, token, json_body=whole, browser=False))[0] == 200
    assert (connector.mode, connector.cable_lock, connector.rfid_lock) == ("On", True, True)


# --- an error answer that echoes the request ----------------------------------------------------------------------


async def test_echo_fault_repeats_the_request_body_in_a_4xx(cloud: Cloud) -> None:
    cloud.sim.inject("POST /api/auth/login", Fault.ECHO_BODY)
    body = {"email": EMAIL, "password": PASSWORD, "hostName": "my.charge.space"}
    status, data = await cloud.call("POST", "/api/auth/login", json_body=body)
    assert status == 400
    assert data["messageCode"] == "INVALID_REQUEST"
    assert json.dumps(PASSWORD)[1:-1] in data["error"]  # the raw request text: the password JSON-escaped
    assert data["request"]["password"] == PASSWORD
    assert cloud.sim.logins(EMAIL) == 0  # refused, nothing applied
    entry = cloud.sim.requests("POST /api/auth/login")[0]
    assert (entry.fault, entry.status, entry.json_body["password"]) == (Fault.ECHO_BODY, 400, "***")


def test_echo_fault_status_must_be_4xx() -> None:
    with pytest.raises(ValueError, match="4xx"):
        FaultRule(route="*", fault=Fault.ECHO_BODY, status=500)


# --- short token lifetimes ------------------------------------------------------------------------------------


async def test_token_lifetime_can_be_made_short(cloud: Cloud) -> None:
    cloud.sim.set_token_lifetimes(userapp_s=60)
    token = await cloud.userapp_token()
    path = f"/api/smartChargingSchedules/chargepoint/{HALO}"
    await cloud.clock.advance(59)
    assert (await cloud.call("GET", path, token))[0] == 200
    await cloud.clock.advance(1)
    assert (await cloud.call("GET", path, token))[0] == 401
    with pytest.raises(ValueError, match="positive"):
        cloud.sim.set_token_lifetimes(official_s=0)


# --- defaultCurrent -----------------------------------------------------------------------------------------------


async def test_the_charger_uses_default_current_between_periods(cloud: Cloud) -> None:
    cloud.sim.plug_in_car(HALO, 1, max_current_a=16.0, phases=3)
    # Monday 11:00 local is 39600 s after the week's start.
    cloud.sim.app_store_schedule(HALO, 1, [(39600, 43200, 16.0)], default_current_a=6.0)
    assert cloud.sim.connector(HALO, 1).current_a == 16.0
    await cloud.clock.advance(3600)
    assert cloud.sim.connector(HALO, 1).current_a == 6.0
    cloud.sim.app_store_schedule(HALO, 1, [(39600, 43200, 16.0)], default_current_a=6.0, is_active=False)
    assert cloud.sim.connector(HALO, 1).current_a == 0.0
