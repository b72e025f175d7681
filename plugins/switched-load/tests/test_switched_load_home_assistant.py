"""The Home Assistant driver over real HTTP against a fake Home Assistant, and a load following its schedule."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from switched_load_fakes import TOKEN, FakeHomeAssistant

from energy_agent.api import (
    ChargerState,
    Device,
    DeviceAuthError,
    DeviceContext,
    DeviceError,
    DeviceRejectedError,
    DeviceUnavailableError,
    Period,
    Schedule,
    ScheduleSource,
)
from energy_agent.testing import ManualClock, NoMqtt
from energy_agent_switched_load.config import HomeAssistantLoadConfig
from energy_agent_switched_load.device import SwitchedLoad
from energy_agent_switched_load.drivers import HomeAssistantSwitch

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def load_config(fake: FakeHomeAssistant, **overrides: Any) -> HomeAssistantLoadConfig:
    data: dict[str, Any] = {
        "id": "boiler",
        "power_kw": 2.0,
        "driver": "home_assistant",
        "entity_id": "switch.boiler",
        "url": fake.url,
        "token": TOKEN,
        "timeout_s": 2,
    }
    data.update(overrides)
    return HomeAssistantLoadConfig.model_validate(data)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def test_turns_the_switch_with_the_bearer_token_and_reads_it_back(
    home_assistant: FakeHomeAssistant, session: aiohttp.ClientSession
) -> None:
    switch = HomeAssistantSwitch(load_config(home_assistant), session=session)
    await switch.start()
    assert await switch.read_on() is False
    await switch.turn(True)
    assert home_assistant.states["switch.boiler"] == "on"
    assert await switch.read_on() is True
    await switch.turn(False)
    assert home_assistant.services() == ["switch.turn_on switch.boiler", "switch.turn_off switch.boiler"]
    assert set(home_assistant.authorizations) == {f"Bearer {TOKEN}"}
    await switch.close()
    assert not session.closed, "an injected session belongs to the caller"


async def test_own_session_is_opened_and_closed(home_assistant: FakeHomeAssistant) -> None:
    switch = HomeAssistantSwitch(load_config(home_assistant))
    with pytest.raises(DeviceUnavailableError, match="before start"):
        await switch.turn(True)
    await switch.start()
    await switch.turn(True)
    await switch.close()
    assert home_assistant.services() == ["switch.turn_on switch.boiler"]


async def test_other_domains_use_their_own_services(home_assistant: FakeHomeAssistant) -> None:
    home_assistant.states["input_boolean.pump"] = "off"
    switch = HomeAssistantSwitch(load_config(home_assistant, entity_id="input_boolean.pump"))
    await switch.start()
    try:
        await switch.turn(True)
    finally:
        await switch.close()
    assert home_assistant.services() == ["input_boolean.turn_on input_boolean.pump"]


async def test_errors_are_translated_and_never_show_the_token(
    home_assistant: FakeHomeAssistant, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []

    async def expect(error: type[DeviceError], action: Callable[[], Awaitable[object]]) -> None:
        with pytest.raises(error) as caught:
            await action()
        messages.append(str(caught.value))

    wrong = HomeAssistantSwitch(load_config(home_assistant, token="not-the-token-123"), session=session)
    await expect(DeviceAuthError, lambda: wrong.turn(True))
    switch = HomeAssistantSwitch(load_config(home_assistant), session=session)
    missing = HomeAssistantSwitch(load_config(home_assistant, entity_id="switch.nope"), session=session)
    await expect(DeviceRejectedError, missing.read_on)
    await expect(DeviceRejectedError, lambda: missing.turn(True))
    home_assistant.states["switch.boiler"] = "unavailable"
    await expect(DeviceUnavailableError, switch.read_on)
    home_assistant.fail_status = 503
    await expect(DeviceUnavailableError, lambda: switch.turn(False))
    home_assistant.fail_status = None
    home_assistant.delay_s = 0.5
    slow = HomeAssistantSwitch(load_config(home_assistant, timeout_s=0.1), session=session)
    await expect(DeviceUnavailableError, lambda: slow.turn(True))
    home_assistant.delay_s = 0.0
    await home_assistant.stop()
    await expect(DeviceUnavailableError, lambda: switch.turn(True))

    assert "refused the token (HTTP 401)" in messages[0]
    assert "HTTP 404" in messages[1] and "HTTP 400" in messages[2]
    assert "'unavailable'" in messages[3] and "HTTP 503" in messages[4]
    assert "within 0.1 s" in messages[5] and "cannot reach Home Assistant" in messages[6]
    assert home_assistant.calls == []
    for text in [*messages, caplog.text]:
        assert TOKEN not in text and "not-the-token-123" not in text


def context_for(clock: ManualClock, tmp_path: Path) -> DeviceContext:
    return DeviceContext(clock=clock, timezone=ZoneInfo("Europe/Amsterdam"), state_dir=tmp_path, mqtt=NoMqtt())


async def settle(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait (real time) until `condition` holds: HTTP calls take real time, the clock does not move."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.005)


async def test_load_switches_at_period_edges_and_off_at_expiry(
    home_assistant: FakeHomeAssistant, tmp_path: Path
) -> None:
    clock = ManualClock(START)
    load = SwitchedLoad(
        load_config(home_assistant), HomeAssistantSwitch(load_config(home_assistant)), context_for(clock, tmp_path)
    )
    assert isinstance(load, Device)
    await load.start()
    try:
        await settle(lambda: load.switched_on is False)  # no schedule yet: off
        schedule = Schedule(
            periods=(
                Period(START - timedelta(hours=2), START - timedelta(hours=1)),  # ended: ignored
                Period(START + timedelta(minutes=30), START + timedelta(hours=1)),
                Period(START + timedelta(hours=2), START + timedelta(hours=4)),
            ),
            source=ScheduleSource.HEMS,
            expires_at=START + timedelta(hours=3),
        )
        await load.apply_schedule(schedule)
        assert home_assistant.services() == ["switch.turn_off switch.boiler"]
        await clock.advance(30 * 60)
        await settle(lambda: load.switched_on is True)
        status = await load.read_status()
        assert status.state is ChargerState.CHARGING and status.current_power_kw == 2.0
        await clock.advance(30 * 60)
        await settle(lambda: load.switched_on is False)
        await clock.advance(60 * 60)
        await settle(lambda: load.switched_on is True)
        await clock.advance(60 * 60)  # expires_at cuts the second period short
        await settle(lambda: load.switched_on is False)
        status = await load.read_status()
        assert status.state is ChargerState.IDLE and status.current_power_kw == 0.0
        assert [s.split()[0] for s in home_assistant.services()] == [
            "switch.turn_off",
            "switch.turn_on",
            "switch.turn_off",
            "switch.turn_on",
            "switch.turn_off",
        ]
    finally:
        await load.close()


async def test_a_failed_switch_keeps_the_previous_schedule_and_is_retried(
    home_assistant: FakeHomeAssistant, tmp_path: Path
) -> None:
    clock = ManualClock(START)
    load = SwitchedLoad(
        load_config(home_assistant), HomeAssistantSwitch(load_config(home_assistant)), context_for(clock, tmp_path)
    )
    await load.start()
    try:
        await settle(lambda: load.switched_on is False)
        running = Schedule(periods=(Period(START, START + timedelta(hours=1)),), source=ScheduleSource.HEMS)
        home_assistant.fail_status = 500
        with pytest.raises(DeviceUnavailableError, match="HTTP 500"):
            await load.apply_schedule(running)
        assert load.switched_on is False
        await clock.advance(30)
        assert load.switched_on is False, "the refused schedule is not followed"
        home_assistant.fail_status = None
        await load.apply_schedule(running)
        assert load.switched_on is True
        home_assistant.fail_status = 500
        await clock.advance(60 * 60)  # the period ends while Home Assistant fails
        await settle(lambda: len(home_assistant.authorizations) == 4)  # off at start, refused, on, refused
        assert load.switched_on is True
        home_assistant.fail_status = None
        await clock.advance(60)  # the retry a minute later gets through
        await settle(lambda: load.switched_on is False)
        await load.clear_schedule()
        assert home_assistant.services()[-1] == "switch.turn_off switch.boiler"
    finally:
        await load.close()
