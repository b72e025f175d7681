"""The Charge Amps cloud client over real HTTP against the simulator: tokens, retries, faults and wire models."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, quote_plus

import aiohttp
import pytest
from aiohttp import web

from energy_agent.api import (
    DeviceAuthError,
    DeviceError,
    DeviceRejectedError,
    DeviceTimeoutError,
    DeviceUnavailableError,
)
from energy_agent.testing import ManualClock
from energy_agent_chargeamps.client import (
    ChargeAmpsAuthError,
    ChargeAmpsConnectionError,
    ChargeAmpsError,
    ChargeAmpsRateLimitError,
    ChargeAmpsRequestError,
    ChargeAmpsResponseError,
    ChargeAmpsServerError,
    ChargeAmpsTimeoutError,
    ConnectorSettings,
    OfficialClient,
    RetryPolicy,
    SchedulePeriod,
    SmartChargingSchedule,
    UserAppClient,
    to_device_error,
    token_expiry,
)
from energy_agent_chargeamps.simulator import Fault, FaultMode, Simulator

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
WEEK_START = "2026-11-22T23:00:00Z"  # Monday 00:00 Europe/Amsterdam, written in UTC
EMAIL = "owner@example.com"
PASSWORD = "correct-horse-battery-staple"
API_KEY = "apikey-5f1e2d3c4b5a69788796"
HALO = "2101000123A"
AURA = "2201000456B"
LUNA = "2301000789C"
FULL_POWER_KW = 16 * 3 * 230 / 1000  # 16 A on three phases at 230 V

UA_LOGIN = "POST /api/auth/login"
UA_OWNED = "POST /api/users/chargepoints/owned"
UA_SCHEDULES = "GET /api/smartChargingSchedules/chargepoint/{chargePointId}"
UA_PUT = "PUT /api/smartChargingSchedules"
OFF_LOGIN = "POST /api/v5/auth/login"
OFF_REFRESH = "POST /api/v5/auth/refreshtoken"
OFF_OWNED = "GET /api/v5/chargepoints/owned"
OFF_STATUS = "GET /api/v5/chargepoints/{id}/status"


class SleepRecorder:
    """Stands in for asyncio.sleep in the retry loop: records each requested delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay_s: float) -> None:
        self.delays.append(delay_s)
        await asyncio.sleep(0)


@dataclass
class Env:
    """A running simulator with one account and three chargers, a session, and the sleep recorder."""

    sim: Simulator
    clock: ManualClock
    url: str
    http: aiohttp.ClientSession
    sleeps: SleepRecorder

    def userapp(self, *, password: str = PASSWORD, **kwargs: Any) -> UserAppClient:
        kwargs.setdefault("retry", RetryPolicy(jitter=0.0))
        return UserAppClient(
            self.http, base_url=self.url, email=EMAIL, password=password, clock=self.clock, sleep=self.sleeps, **kwargs
        )

    def official(self, *, api_key: str = API_KEY, password: str = PASSWORD, **kwargs: Any) -> OfficialClient:
        kwargs.setdefault("retry", RetryPolicy(jitter=0.0))
        return OfficialClient(
            self.http,
            base_url=self.url,
            api_key=api_key,
            email=EMAIL,
            password=password,
            clock=self.clock,
            sleep=self.sleeps,
            **kwargs,
        )

    def statuses(self, route: str) -> list[int | None]:
        return [entry.status for entry in self.sim.requests(route)]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    clock = ManualClock(START)
    sim = Simulator(
        clock, userapp_token_lifetime_s=3600, official_token_lifetime_s=7200, refresh_token_lifetime_s=168 * 3600
    )
    sim.add_account(email=EMAIL, password=PASSWORD, api_key=API_KEY)
    sim.add_charge_point(email=EMAIL, product="HALO", charge_point_id=HALO)
    sim.add_charge_point(email=EMAIL, product="AURA", charge_point_id=AURA)
    sim.add_charge_point(email=EMAIL, product="LUNA", charge_point_id=LUNA)
    url = await sim.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield Env(sim, clock, url, http, SleepRecorder())
    finally:
        await sim.stop()


def schedule_body(*, from_s: int = 7200, to_s: int = 14400, max_current_a: float = 16.0) -> dict[str, Any]:
    """The exact JSON the weekly converter produces for one period on the HALO's car connector."""
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
        "schedulePeriods": [{"from": from_s, "to": to_s, "maxCurrent": max_current_a}],
    }


def assert_no_secret(exc: BaseException, *secrets: str) -> None:
    text = f"{exc} {exc!r}"
    for secret in (PASSWORD, API_KEY, *secrets):
        assert secret not in text


# --- user-app API: the happy path ---------------------------------------------------------------------------


async def test_userapp_logs_in_once_for_many_calls(env: Env) -> None:
    client = env.userapp()
    env.sim.plug_in_car(HALO, 1, max_current_a=16.0, phases=3)

    charge_points = await client.owned_charge_points()
    stored = await client.put_schedule(schedule_body())
    schedules = await client.get_schedules(HALO)
    await client.delete_schedule(HALO, 1)
    after_delete = await client.get_schedules(HALO)

    assert client.login_count == 1
    assert env.sim.logins(EMAIL) == 1
    assert [cp.id for cp in charge_points] == [HALO, AURA, LUNA]
    halo = charge_points[0]
    assert halo.charge_point_status == "Online"
    assert [c.connector_id for c in halo.connectors] == [1, 2]
    assert halo.connectors[0].power_kw == pytest.approx(FULL_POWER_KW)
    assert halo.connectors[0].is_charging is True
    assert isinstance(stored.schedule_id, int)
    assert stored.start_of_schedule == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    assert stored.schedule_periods == [SchedulePeriod(from_s=7200, to_s=14400, max_current_a=16.0)]
    assert [s.schedule_id for s in schedules] == [stored.schedule_id]
    assert after_delete == []
    assert env.sim.requests(UA_OWNED)[0].query == {"expand": "ocppConfig,topChargingLimitation"}
    assert env.sim.requests(UA_OWNED)[0].json_body == []


async def test_userapp_put_schedule_sends_the_same_body_for_a_dict_and_a_model(env: Env) -> None:
    client = env.userapp()
    body = schedule_body()

    first = await client.put_schedule(body)
    second = await client.put_schedule(SmartChargingSchedule.model_validate(body))

    puts = [entry.json_body for entry in env.sim.requests(UA_PUT)]
    assert puts[0] == puts[1] == body
    assert first.schedule_id != second.schedule_id  # a new id on every PUT
    assert env.sim.connector(HALO, 1).mode == "Schedule"


async def test_userapp_put_schedule_rejects_a_malformed_dict_before_sending(env: Env) -> None:
    client = env.userapp()
    body = schedule_body()
    del body["chargePointId"]

    with pytest.raises(ValueError, match="chargePointId"):
        await client.put_schedule(body)
    assert env.sim.request_log == []


async def test_userapp_relogs_in_at_the_refresh_margin_before_expiry(env: Env) -> None:
    client = env.userapp()
    await client.owned_charge_points()

    await env.clock.advance(3600 - 300 - 1)
    await client.owned_charge_points()
    assert client.login_count == 1

    await env.clock.advance(1)
    await client.owned_charge_points()
    assert client.login_count == 2
    assert env.sim.logins(EMAIL) == 2
    assert 401 not in [entry.status for entry in env.sim.request_log]  # renewed before the cloud refused it


async def test_a_short_lived_token_is_reused_for_most_of_its_life(env: Env) -> None:
    """With 60 s tokens the renewal margin shrinks to 15 % (9 s): not a login before every request."""
    env.sim.set_token_lifetimes(userapp_s=60)
    client = env.userapp()

    for _ in range(11):  # 0 s, 5 s, ..., 50 s after the login
        await client.get_schedules(HALO)
        await env.clock.advance(5)
    assert client.login_count == env.sim.logins(EMAIL) == 1

    await env.clock.advance(1)  # 56 s: 4 s left, less than the margin
    await client.get_schedules(HALO)
    assert client.login_count == 2
    assert 401 not in env.statuses(UA_SCHEDULES)


async def test_a_short_lived_official_token_is_refreshed_near_its_end(env: Env) -> None:
    env.sim.set_token_lifetimes(official_s=60)
    client = env.official()

    for _ in range(11):
        await client.status(HALO)
        await env.clock.advance(5)
    assert (client.login_count, client.refresh_count) == (1, 0)

    await env.clock.advance(1)
    await client.status(HALO)
    assert (client.login_count, client.refresh_count) == (1, 1)


async def test_concurrent_calls_log_in_once(env: Env) -> None:
    client = env.userapp()

    results = await asyncio.gather(*(client.get_schedules(HALO) for _ in range(10)))

    assert results == [[]] * 10
    assert client.login_count == 1
    assert env.sim.logins(EMAIL) == 1
    assert len(env.sim.requests(UA_LOGIN)) == 1


async def test_concurrent_calls_after_expiry_renew_once(env: Env) -> None:
    client = env.official()
    await client.owned_charge_points()
    await env.clock.advance(7200)

    await asyncio.gather(*(client.status(HALO) for _ in range(8)))

    assert (client.login_count, client.refresh_count) == (1, 1)
    assert len(env.sim.requests(OFF_REFRESH)) == 1


# --- 401 handling: one renewal per call, never a login loop ---------------------------------------------------


async def test_userapp_401_renews_the_token_once_and_succeeds(env: Env) -> None:
    client = env.userapp()
    await client.owned_charge_points()
    env.sim.inject(UA_SCHEDULES, Fault.UNAUTHORIZED, mode=FaultMode.ONCE)

    assert await client.get_schedules(HALO) == []

    assert client.login_count == 2
    assert env.statuses(UA_SCHEDULES) == [401, 200]
    assert env.sleeps.delays == []


async def test_official_401_renews_with_the_refresh_token(env: Env) -> None:
    client = env.official()
    await client.owned_charge_points()
    env.sim.inject(OFF_STATUS, Fault.UNAUTHORIZED, mode=FaultMode.ONCE)

    status = await client.status(HALO)

    assert status.id == HALO
    assert (client.login_count, client.refresh_count) == (1, 1)
    assert env.sim.logins(EMAIL) == 1
    assert env.statuses(OFF_STATUS) == [401, 200]


@pytest.mark.parametrize("api", ["userapp", "official"])
async def test_repeated_401_is_an_auth_error_without_a_login_loop(env: Env, api: str) -> None:
    userapp, official = env.userapp(), env.official()

    async def call() -> object:
        return await (userapp.get_schedules(HALO) if api == "userapp" else official.status(HALO))

    route = UA_SCHEDULES if api == "userapp" else OFF_STATUS
    env.sim.inject(route, Fault.UNAUTHORIZED, mode=FaultMode.ALWAYS)

    with pytest.raises(ChargeAmpsAuthError) as caught:
        await call()

    assert caught.value.status == 401
    assert env.statuses(route) == [401, 401]
    auth_calls = [e for e in env.sim.request_log if "/auth/" in e.route]
    assert len(auth_calls) == 2  # the first login and exactly one renewal
    assert env.sleeps.delays == []
    assert isinstance(to_device_error(caught.value), DeviceAuthError)
    assert_no_secret(caught.value)


@pytest.mark.parametrize("fault", [Fault.UNAUTHORIZED, Fault.FORBIDDEN])
async def test_a_refused_login_fails_at_once(env: Env, fault: Fault) -> None:
    client = env.userapp()
    env.sim.inject(UA_LOGIN, fault, mode=FaultMode.ALWAYS)

    with pytest.raises(ChargeAmpsAuthError):
        await client.owned_charge_points()

    assert len(env.sim.requests(UA_LOGIN)) == 1
    assert env.sim.requests(UA_OWNED) == []
    assert client.login_count == 0
    assert env.sleeps.delays == []


async def test_wrong_credentials_fail_once_and_leak_nothing(env: Env) -> None:
    wrong_password = "wrong-password-0451"
    userapp = env.userapp(password=wrong_password)
    official = env.official(api_key="wrong-api-key-8812", password=wrong_password)

    with pytest.raises(ChargeAmpsAuthError) as userapp_error:
        await userapp.owned_charge_points()
    with pytest.raises(ChargeAmpsAuthError) as official_error:
        await official.owned_charge_points()

    assert len(env.sim.requests(UA_LOGIN)) == len(env.sim.requests(OFF_LOGIN)) == 1
    for caught in (userapp_error, official_error):
        assert caught.value.status == 401
        assert_no_secret(caught.value, wrong_password, "wrong-api-key-8812")
        assert_no_secret(to_device_error(caught.value), wrong_password, "wrong-api-key-8812")


# --- official API: refresh, and the calls themselves ---------------------------------------------------------


async def test_official_refreshes_at_the_margin_instead_of_logging_in(env: Env) -> None:
    client = env.official()
    await client.owned_charge_points()

    await env.clock.advance(7200 - 300 - 1)
    await client.status(HALO)
    assert client.refresh_count == 0

    await env.clock.advance(1)
    await client.status(HALO)
    await client.status(HALO)

    assert (client.login_count, client.refresh_count) == (1, 1)
    assert env.sim.logins(EMAIL) == 1
    assert env.statuses(OFF_REFRESH) == [200]
    assert env.sim.requests(OFF_REFRESH)[0].json_body == {"token": "***", "refreshToken": "***"}


async def test_official_logs_in_again_when_the_refresh_token_has_expired(env: Env) -> None:
    client = env.official()
    await client.owned_charge_points()

    await env.clock.advance(168 * 3600 + 1)
    await client.owned_charge_points()

    assert env.statuses(OFF_REFRESH) == [400]
    assert (client.login_count, client.refresh_count) == (2, 0)
    assert env.sim.logins(EMAIL) == 2


async def test_official_calls_reach_the_charger(env: Env) -> None:
    client = env.official()
    env.sim.plug_in_car(HALO, 1, max_current_a=16.0, phases=3)

    charge_points = await client.owned_charge_points()
    status = await client.status(HALO)
    settings = await client.get_settings(HALO, 1)
    await client.put_settings(HALO, 1, ConnectorSettings(mode="Off", max_current_a=10.0))
    after = await client.get_settings(HALO, 1)
    await client.remote_stop(HALO, 1)
    stopped = env.sim.connector(HALO, 1).remotely_stopped
    await client.remote_start(HALO, 1)

    assert [(cp.id, cp.ocpp_version) for cp in charge_points] == [(HALO, None), (AURA, "1.6"), (LUNA, "1.6")]
    car = status.connector_statuses[0]
    assert status.status == "Online"
    assert car.charging_power_kw == pytest.approx(FULL_POWER_KW)
    assert [(m.phase, m.current_a, m.voltage_v) for m in car.measurements] == [
        ("L1", 16.0, 230.0),
        ("L2", 16.0, 230.0),
        ("L3", 16.0, 230.0),
    ]
    assert status.connector_statuses[1].measurements == []  # null while not charging
    assert (settings.mode, settings.installation_current_a) == ("On", 16.0)
    assert (after.mode, after.max_current_a) == ("Off", 10.0)
    put_body = env.sim.requests("PUT /api/v5/chargepoints/{id}/connectors/{c}/settings")[0].json_body
    assert put_body == {"chargePointId": HALO, "connectorId": 1, "maxCurrent": 10.0, "mode": "Off"}
    assert stopped is True
    assert env.sim.connector(HALO, 1).remotely_stopped is False
    assert client.login_count == 1


async def test_luna_null_fields_are_read(env: Env) -> None:
    client = env.official()

    charge_points = {cp.id: cp for cp in await client.owned_charge_points()}

    luna = charge_points[LUNA]
    assert luna.settings is not None
    assert luna.settings.down_light is None
    assert luna.settings.dimmer == "Off"
    assert [c.connector_id for c in luna.connectors] == [1]
    halo = charge_points[HALO]
    assert halo.settings is not None
    assert halo.settings.down_light is True


async def test_numeric_status_codes_are_kept_raw(env: Env) -> None:
    official = env.official()
    userapp = env.userapp()
    env.sim.plug_in_car(AURA, 1)
    env.sim.inject(OFF_STATUS, Fault.NUMERIC_STATUS, mode=FaultMode.ONCE)
    env.sim.inject(UA_OWNED, Fault.NUMERIC_STATUS, mode=FaultMode.ONCE)

    status = await official.status(AURA)
    charge_points = await userapp.owned_charge_points()

    assert status.status == 0  # Online
    assert status.connector_statuses[0].status == 2  # OCPP Charging
    aura = next(cp for cp in charge_points if cp.id == AURA)
    assert aura.charge_point_status == 0
    assert aura.connectors[0].mode == 1  # On
    assert aura.connectors[0].ocpp_status == 2


async def test_official_update_settings_reads_and_writes_the_settings_whole(env: Env) -> None:
    client = env.official()
    env.sim.app_change_settings(AURA, 1, cable_lock=True, rfid_lock=True)

    written = await client.update_settings(AURA, 1, mode="Off", max_current_a=10.0)

    assert (written.mode, written.max_current_a, written.cable_lock, written.rfid_lock) == ("Off", 10.0, True, True)
    assert [(entry.method, entry.path) for entry in env.sim.request_log if "/auth/" not in entry.path] == [
        ("GET", f"/api/v5/chargepoints/{AURA}/connectors/1/settings"),
        ("PUT", f"/api/v5/chargepoints/{AURA}/connectors/1/settings"),
    ]
    assert env.sim.request_log[-1].json_body == {
        "chargePointId": AURA,
        "connectorId": 1,
        "maxCurrent": 10.0,
        "rfidLock": True,
        "mode": "Off",
        "cableLock": True,
    }
    connector = env.sim.connector(AURA, 1)
    assert (connector.mode, connector.max_current_a, connector.cable_lock, connector.rfid_lock) == (
        "Off",
        10.0,
        True,
        True,
    )


# --- transient faults and retries ----------------------------------------------------------------------------


async def test_rate_limit_honours_retry_after(env: Env) -> None:
    client = env.userapp()
    env.sim.inject(UA_SCHEDULES, Fault.RATE_LIMITED, mode=FaultMode.ONCE, retry_after_s=7)

    assert await client.get_schedules(HALO) == []

    assert env.sleeps.delays == [7.0]
    assert env.statuses(UA_SCHEDULES) == [429, 200]


async def test_rate_limit_retry_after_is_honoured_up_to_five_minutes(env: Env) -> None:
    """A Retry-After longer than the 30 s backoff cap is still waited for in full, up to 300 s."""
    client = env.userapp()
    env.sim.inject(UA_SCHEDULES, Fault.RATE_LIMITED, mode=FaultMode.ONCE, retry_after_s=240)
    env.sim.inject(UA_SCHEDULES, Fault.RATE_LIMITED, mode=FaultMode.ONCE, retry_after_s=300)

    assert await client.get_schedules(HALO) == []

    assert env.sleeps.delays == [240.0, 300.0]
    assert env.statuses(UA_SCHEDULES) == [429, 429, 200]


async def test_rate_limit_retry_after_beyond_the_cap_fails_at_once(env: Env) -> None:
    client = env.userapp(retry=RetryPolicy(attempts=2, jitter=0.0))
    env.sim.inject(UA_SCHEDULES, Fault.RATE_LIMITED, mode=FaultMode.ALWAYS, retry_after_s=600)

    with pytest.raises(ChargeAmpsRateLimitError) as caught:
        await client.get_schedules(HALO)

    assert env.sleeps.delays == []  # not retried early, against the server's word
    assert env.statuses(UA_SCHEDULES) == [429]
    assert caught.value.retry_after_s == 600
    assert "600 s" in str(caught.value)
    assert isinstance(to_device_error(caught.value), DeviceUnavailableError)


def test_retry_policy_caps_retry_after_separately_from_backoff() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=30.0, max_retry_after_s=120.0, jitter=0.0)
    assert policy.delay_s(10) == 30.0
    assert policy.delay_s(1, retry_after_s=90.0) == 90.0
    assert policy.delay_s(1, retry_after_s=500.0) == 120.0
    assert RetryPolicy().max_retry_after_s == 300.0
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(max_retry_after_s=-1)


async def test_server_error_with_html_body_is_retried(env: Env) -> None:
    client = env.userapp()
    await client.owned_charge_points()
    env.sim.inject(UA_PUT, Fault.SERVER_ERROR, mode=FaultMode.ONCE)

    stored = await client.put_schedule(schedule_body())

    assert stored.schedule_periods[0].max_current_a == 16.0
    assert env.statuses(UA_PUT) == [502, 200]
    assert env.sleeps.delays == [0.5]


async def test_persistent_server_errors_back_off_then_give_up(env: Env) -> None:
    client = env.official()
    await client.owned_charge_points()
    env.sim.inject(OFF_STATUS, Fault.SERVER_ERROR, mode=FaultMode.ALWAYS, status=503)

    with pytest.raises(ChargeAmpsServerError) as caught:
        await client.status(HALO)

    assert env.statuses(OFF_STATUS) == [503] * 4
    assert env.sleeps.delays == [0.5, 1.0, 2.0]
    assert caught.value.status == 503
    assert "<" not in str(caught.value)  # the proxy's HTML page stays out of the message
    assert isinstance(to_device_error(caught.value), DeviceUnavailableError)


async def test_backoff_is_capped_at_max_delay(env: Env) -> None:
    client = env.userapp(retry=RetryPolicy(attempts=5, base_delay_s=4.0, max_delay_s=10.0, jitter=0.0))
    await client.owned_charge_points()
    env.sim.inject(UA_SCHEDULES, Fault.SERVER_ERROR, mode=FaultMode.ALWAYS)

    with pytest.raises(ChargeAmpsServerError):
        await client.get_schedules(HALO)

    assert env.sleeps.delays == [4.0, 8.0, 10.0, 10.0]


async def test_jitter_stretches_each_backoff_within_bounds(env: Env) -> None:
    client = env.userapp(retry=RetryPolicy(attempts=4, base_delay_s=1.0, jitter=0.5))
    await client.owned_charge_points()
    env.sim.inject(UA_SCHEDULES, Fault.SERVER_ERROR, mode=FaultMode.ALWAYS)

    with pytest.raises(ChargeAmpsServerError):
        await client.get_schedules(HALO)

    for delay_s, base_s in zip(env.sleeps.delays, [1.0, 2.0, 4.0], strict=True):
        assert base_s <= delay_s <= base_s * 1.5


async def test_slow_reply_times_out_and_is_retried(env: Env) -> None:
    client = env.userapp(timeout_s=0.2)
    await client.owned_charge_points()
    env.sim.inject(UA_SCHEDULES, Fault.SLOW, mode=FaultMode.ONCE, delay_s=1.0)

    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await client.get_schedules(HALO) == []
    elapsed_s = loop.time() - started

    assert env.sleeps.delays == [0.5]
    assert len(env.sim.requests(UA_SCHEDULES)) == 2
    assert 0.2 <= elapsed_s < 0.9  # gave up on the slow reply instead of waiting for it


async def test_slow_replies_end_in_a_timeout_error(env: Env) -> None:
    client = env.official(timeout_s=0.2, retry=RetryPolicy(attempts=2, jitter=0.0))
    await client.owned_charge_points()
    env.sim.inject(OFF_STATUS, Fault.SLOW, mode=FaultMode.ALWAYS, delay_s=1.0)

    with pytest.raises(ChargeAmpsTimeoutError) as caught:
        await client.status(HALO)

    assert "0.2 s" in str(caught.value)
    assert env.sleeps.delays == [0.5]
    assert isinstance(to_device_error(caught.value), DeviceUnavailableError)


async def test_dropped_connection_is_retried(env: Env) -> None:
    # A POST, because aiohttp itself silently resends an idempotent request whose pooled connection was closed.
    client = env.userapp()
    await client.owned_charge_points()
    env.sim.inject(UA_OWNED, Fault.DROP, mode=FaultMode.ONCE)

    charge_points = await client.owned_charge_points()

    assert [cp.id for cp in charge_points] == [HALO, AURA, LUNA]
    assert env.statuses(UA_OWNED) == [200, None, 200]
    assert env.sleeps.delays == [0.5]


async def test_persistently_dropped_connection_is_a_connection_error(env: Env) -> None:
    client = env.userapp(retry=RetryPolicy(attempts=2, jitter=0.0))
    env.sim.inject(UA_LOGIN, Fault.DROP, mode=FaultMode.ALWAYS)

    with pytest.raises(ChargeAmpsConnectionError) as caught:
        await client.owned_charge_points()

    assert not isinstance(caught.value, ChargeAmpsTimeoutError)
    assert len(env.sim.requests(UA_LOGIN)) == 2
    assert client.login_count == 0
    assert_no_secret(caught.value)


async def test_unreachable_cloud_is_a_connection_error(env: Env) -> None:
    await env.sim.stop()
    client = env.userapp(retry=RetryPolicy(attempts=2, jitter=0.0))

    with pytest.raises(ChargeAmpsConnectionError):
        await client.owned_charge_points()

    assert env.sleeps.delays == [0.5]


async def test_malformed_json_on_200_is_a_response_error_without_retry(env: Env) -> None:
    client = env.userapp()
    await client.owned_charge_points()
    env.sim.inject(UA_OWNED, Fault.MALFORMED_JSON, mode=FaultMode.ONCE)

    with pytest.raises(ChargeAmpsResponseError, match="not valid JSON"):
        await client.owned_charge_points()

    assert env.statuses(UA_OWNED) == [200, 200]
    assert env.sleeps.delays == []


async def test_forbidden_is_an_auth_error_without_renewal(env: Env) -> None:
    client = env.userapp()
    await client.owned_charge_points()
    env.sim.inject(UA_SCHEDULES, Fault.FORBIDDEN, mode=FaultMode.ONCE)

    with pytest.raises(ChargeAmpsAuthError) as caught:
        await client.get_schedules(HALO)

    assert caught.value.status == 403
    assert env.statuses(UA_SCHEDULES) == [403]
    assert client.login_count == 1
    assert env.sleeps.delays == []


async def test_bad_request_is_not_retried_and_carries_the_vendor_code(env: Env) -> None:
    client = env.userapp()

    with pytest.raises(ChargeAmpsRequestError) as caught:
        await client.put_schedule(schedule_body(from_s=604801, to_s=604900))

    assert caught.value.status == 400
    assert caught.value.vendor_code == "SCHEDULE_INVALID_DATA"
    assert caught.value.vendor_message == "Periods From value can not exceed 604800"
    assert "SCHEDULE_INVALID_DATA" in str(caught.value)
    assert env.statuses(UA_PUT) == [400]
    assert env.sleeps.delays == []
    assert isinstance(to_device_error(caught.value), DeviceRejectedError)


QUOTED_PASSWORD = 'pa"ss\\wörd %+ &x'
"""A password with a quote, a backslash, a non-ASCII letter and characters URL-encoding changes."""


def password_forms(password: str) -> set[str]:
    """The password raw, JSON-escaped (as an echoed request body holds it) and URL-encoded."""
    return {
        password,
        json.dumps(password)[1:-1],
        json.dumps(password, ensure_ascii=False)[1:-1],
        quote(password, safe=""),
        quote_plus(password),
    }


@pytest.mark.parametrize("api", ["userapp", "official"])
async def test_an_error_answer_echoing_the_login_never_puts_the_password_in_errors_or_logs(
    env: Env, api: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env.sim.add_account(email="quoted@example.com", password=QUOTED_PASSWORD, api_key="key-quoted")
    env.sim.inject(UA_LOGIN if api == "userapp" else OFF_LOGIN, Fault.ECHO_BODY)
    client: UserAppClient | OfficialClient
    if api == "userapp":
        client = UserAppClient(
            env.http, base_url=env.url, email="quoted@example.com", password=QUOTED_PASSWORD, clock=env.clock
        )
    else:
        client = OfficialClient(
            env.http,
            base_url=env.url,
            api_key="key-quoted",
            email="quoted@example.com",
            password=QUOTED_PASSWORD,
            clock=env.clock,
        )

    with pytest.raises(ChargeAmpsRequestError) as caught:
        await client.owned_charge_points()

    error = caught.value
    assert str(error) == f"POST {'/api' if api == 'userapp' else '/api/v5'}/auth/login answered 400: INVALID_REQUEST"
    assert error.vendor_code == "INVALID_REQUEST"
    texts = [str(error), repr(error), str(error.vendor_message), str(to_device_error(error)), caplog.text]
    for form in password_forms(QUOTED_PASSWORD):
        for text in texts:
            assert form not in text
    assert "***" in str(error.vendor_message)  # the echo was there, and scrubbed


async def test_a_refusal_without_an_error_code_gets_a_short_reason_not_the_body(
    odd_cloud: Callable[[dict[str, OddHandler]], Awaitable[str]],
) -> None:
    async def login(request: web.Request) -> web.Response:
        return web.json_response({"token": make_jwt(START + timedelta(hours=1))})

    async def owned(request: web.Request) -> web.Response:
        return web.Response(status=404, text="no such thing: " + "x" * 500, content_type="text/plain")

    url = await odd_cloud({"POST /api/auth/login": login, "POST /api/users/chargepoints/owned": owned})
    async with aiohttp.ClientSession() as http:
        client = UserAppClient(http, base_url=url, email=EMAIL, password=PASSWORD, clock=ManualClock(START))
        with pytest.raises(ChargeAmpsRequestError) as caught:
            await client.owned_charge_points()

    assert str(caught.value) == "POST /api/users/chargepoints/owned answered 404: not found"
    assert caught.value.vendor_code is None
    assert str(caught.value.vendor_message).startswith("no such thing: xxx")
    assert len(str(caught.value.vendor_message)) <= 201


# --- an odd cloud: replies the simulator does not give -------------------------------------------------------


def make_jwt(exp: datetime | None) -> str:
    """An unsigned JWT with the given `exp` (the client never checks signatures)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    claims: dict[str, Any] = {"sub": "user-1"}
    if exp is not None:
        claims["exp"] = int(exp.timestamp())
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


OddHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def odd_cloud() -> AsyncIterator[Callable[[dict[str, OddHandler]], Awaitable[str]]]:
    """Serves hand-written handlers ("METHOD path" → handler) over real HTTP; returns the base URL."""
    runners: list[web.AppRunner] = []

    async def serve(handlers: dict[str, OddHandler]) -> str:
        app = web.Application()
        for key, handler in handlers.items():
            method, path = key.split(" ", 1)
            app.router.add_route(method, path, handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    try:
        yield serve
    finally:
        for runner in runners:
            await runner.cleanup()


async def test_vendor_text_echoing_secrets_is_scrubbed(
    odd_cloud: Callable[[dict[str, OddHandler]], Awaitable[str]],
) -> None:
    token = make_jwt(START + timedelta(hours=2))
    refresh = "refresh-token-77aa88bb99cc"

    async def login(request: web.Request) -> web.Response:
        return web.json_response({"token": token, "refreshToken": refresh})

    async def owned(request: web.Request) -> web.Response:
        echo = f"bad request from {request.headers['Authorization']} with apiKey {request.headers['apiKey']}"
        return web.json_response({"error": echo, "messageCode": "ECHO"}, status=400)

    url = await odd_cloud({"POST /api/v5/auth/login": login, "GET /api/v5/chargepoints/owned": owned})
    async with aiohttp.ClientSession() as http:
        client = OfficialClient(
            http, base_url=url, api_key=API_KEY, email=EMAIL, password=PASSWORD, clock=ManualClock(START)
        )
        with pytest.raises(ChargeAmpsRequestError) as caught:
            await client.owned_charge_points()

    assert caught.value.vendor_code == "ECHO"
    assert caught.value.vendor_message == "bad request from Bearer *** with apiKey ***"
    assert_no_secret(caught.value, token, refresh)
    assert_no_secret(to_device_error(caught.value), token, refresh)


async def test_a_200_body_of_the_wrong_shape_names_the_field(
    odd_cloud: Callable[[dict[str, OddHandler]], Awaitable[str]],
) -> None:
    async def login(request: web.Request) -> web.Response:
        return web.json_response({"token": make_jwt(START + timedelta(hours=1)), "user": {"id": 7}})

    async def owned(request: web.Request) -> web.Response:
        return web.json_response([{"id": HALO, "connectors": [{"connectorId": 1}, {"connectorId": "two"}]}])

    async def schedules(request: web.Request) -> web.Response:
        return web.json_response({"not": "a list"})

    url = await odd_cloud(
        {
            "POST /api/auth/login": login,
            "POST /api/users/chargepoints/owned": owned,
            "GET /api/smartChargingSchedules/chargepoint/{cp}": schedules,
        }
    )
    async with aiohttp.ClientSession() as http:
        client = UserAppClient(http, base_url=url, email=EMAIL, password=PASSWORD, clock=ManualClock(START))
        with pytest.raises(ChargeAmpsResponseError) as owned_error:
            await client.owned_charge_points()
        with pytest.raises(ChargeAmpsResponseError) as schedules_error:
            await client.get_schedules(HALO)

    assert "'0.connectors.1.connectorId'" in str(owned_error.value)
    assert "two" not in str(owned_error.value)  # field named, value kept out
    assert "list" in str(schedules_error.value)


async def test_login_reply_without_token_is_a_response_error(
    odd_cloud: Callable[[dict[str, OddHandler]], Awaitable[str]],
) -> None:
    async def login(request: web.Request) -> web.Response:
        return web.json_response({"message": "ok", "token": None})

    url = await odd_cloud({"POST /api/v5/auth/login": login})
    async with aiohttp.ClientSession() as http:
        client = OfficialClient(
            http, base_url=url, api_key=API_KEY, email=EMAIL, password=PASSWORD, clock=ManualClock(START)
        )
        with pytest.raises(ChargeAmpsResponseError, match="'token'"):
            await client.owned_charge_points()
    assert client.login_count == 0


async def test_retry_after_as_http_date(odd_cloud: Callable[[dict[str, OddHandler]], Awaitable[str]]) -> None:
    calls: list[str] = []

    async def login(request: web.Request) -> web.Response:
        return web.json_response({"token": make_jwt(START + timedelta(hours=1))})

    async def schedules(request: web.Request) -> web.Response:
        calls.append(request.path)
        if len(calls) == 1:
            return web.Response(status=429, headers={"Retry-After": "Mon, 23 Nov 2026 10:00:12 GMT"})
        return web.json_response([])

    url = await odd_cloud(
        {"POST /api/auth/login": login, "GET /api/smartChargingSchedules/chargepoint/{cp}": schedules}
    )
    sleeps = SleepRecorder()
    async with aiohttp.ClientSession() as http:
        client = UserAppClient(
            http, base_url=url, email=EMAIL, password=PASSWORD, clock=ManualClock(START), sleep=sleeps
        )
        assert await client.get_schedules(HALO) == []
    assert sleeps.delays == [12.0]


# --- pieces without a server ---------------------------------------------------------------------------------


def test_token_expiry_reads_exp_from_the_jwt() -> None:
    expires = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    assert token_expiry(make_jwt(expires)) == expires
    assert token_expiry(make_jwt(None)) is None
    assert token_expiry("opaque-token") is None
    assert token_expiry("a.!!!.c") is None


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ChargeAmpsConnectionError("x"), DeviceUnavailableError),
        (ChargeAmpsTimeoutError("x"), DeviceTimeoutError),
        (ChargeAmpsRateLimitError("x"), DeviceUnavailableError),
        (ChargeAmpsServerError("x", status=500), DeviceUnavailableError),
        (ChargeAmpsAuthError("x", status=401), DeviceAuthError),
        (ChargeAmpsRequestError("x", status=400), DeviceRejectedError),
        (ChargeAmpsResponseError("x"), DeviceError),
        (ChargeAmpsError("x"), DeviceError),
    ],
)
def test_to_device_error_maps_each_kind(error: ChargeAmpsError, expected: type[DeviceError]) -> None:
    translated = to_device_error(error)

    assert type(translated) is expected
    assert str(translated) == "Charge Amps: x"


def test_retry_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=2.0)
