"""Shared parts of the OCPP plugin's tests: configs, a device context, a running central system with its devices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from energy_agent.api import Clock, DeviceContext, Schedule
from energy_agent.testing import NoMqtt, free_port
from energy_agent_ocpp.config import OcppConfig
from energy_agent_ocpp.device import OcppConnector
from energy_agent_ocpp.plugin import create_connectors
from energy_agent_ocpp.simulator import ChargerSimulator, Quirks

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PASSWORD = "correct-horse-battery-staple"


def at(seconds: float, start: datetime = NOW) -> datetime:
    """`seconds` after `start`."""
    return start + timedelta(seconds=seconds)


def context(clock: Clock, state_dir: Path = Path("state")) -> DeviceContext:
    """What the core hands to the device factory."""
    return DeviceContext(clock=clock, timezone=AMS, state_dir=state_dir, mqtt=NoMqtt())


def charge_point(cp_id: str = "HALO-123456", **overrides: Any) -> dict[str, Any]:
    """One `ocpp.charge_points` entry."""
    return {"id": cp_id, "password": PASSWORD, "connectors": [1], "max_current_a": 16, **overrides}


def section(port: int, *points: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """An `ocpp:` section listening on loopback."""
    return {
        "listen": {"host": "127.0.0.1", "port": port},
        "charge_points": list(points) or [charge_point()],
        "response_timeout_s": 2,
        **overrides,
    }


@asynccontextmanager
async def running_devices(clock: Clock, document: dict[str, Any]) -> AsyncIterator[list[OcppConnector]]:
    """The devices of an `ocpp:` section, started (so the central system listens), closed at the end."""
    devices = create_connectors(OcppConfig.model_validate(document), context(clock))
    for device in devices:
        await device.start()
    try:
        yield devices
    finally:
        for device in devices:
            await device.close()


@asynccontextmanager
async def simulated(
    clock: Clock,
    port: int,
    cp_id: str = "HALO-123456",
    password: str | None = PASSWORD,
    *,
    scheme: str = "ws",
    **kwargs: Any,
) -> AsyncIterator[ChargerSimulator]:
    """A simulated charger connecting to ws://127.0.0.1:port (or wss://), stopped at the end."""
    kwargs.setdefault("reconnect_delay_s", 0.05)
    kwargs.setdefault("quirks", Quirks())
    simulator = ChargerSimulator(f"{scheme}://127.0.0.1:{port}", cp_id, password, clock=clock, **kwargs)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def expected_limit(schedule: Schedule, when: datetime, *, default_a: float, after_expiry_a: float) -> float:
    """What the HEMS schedule asks for at `when`: its current in a period, 0 A outside, the base after expiry."""
    if schedule.expires_at is not None and when >= schedule.expires_at:
        return after_expiry_a
    period = schedule.active_at(when)
    return 0.0 if period is None else schedule.current_for(period) or default_a


def edges(schedule: Schedule) -> list[datetime]:
    """Every moment the schedule changes what it asks for."""
    moments = {t for p in schedule.periods for t in (p.start, p.end)}
    if schedule.expires_at is not None:
        moments.add(schedule.expires_at)
    return sorted(moments)


__all__ = ["AMS", "NOW", "PASSWORD", "free_port"]
