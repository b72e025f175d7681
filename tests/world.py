"""A whole world for end-to-end tests: a private Mosquitto, the Charge Amps simulator, an agent, a HEMS client.

Time is a ManualClock shared by the agent and the simulator, so expiries and day changes run in a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import yaml

from energy_agent.app.compose import build_agent
from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.config import load_settings
from energy_agent.hems import contracts
from energy_agent.runtime.agent import Agent
from energy_agent.testing.clock import ManualClock
from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder
from energy_agent.testing.waiting import eventually
from energy_agent_chargeamps.simulator import Simulator

AMS = ZoneInfo("Europe/Amsterdam")
EMAIL = "owner@example.com"
PASSWORD = "pw-very-secret"
CP = "HALO1"
PUT_ROUTE = "PUT /api/smartChargingSchedules"
DELETE_ROUTE = "DELETE /api/smartChargingSchedules/{chargePointId}/{connectorId}"
BASE = "hems/charge-amps/1"

CONTRACT_FOR = {
    "/status": "hems/v1/status",
    "/schedule/result": "hems/v1/result",
    "/capabilities": "hems/v1/capabilities",
    "/agent/availability": "hems/v1/availability",
    "/agent/operation_mode/result": "hems/v1/operation-mode-result",
}


class World:
    """Handles on every part of one end-to-end scenario."""

    def __init__(self, broker: Broker, sim: Simulator, clock: ManualClock, tmp_path: Path, recorder: Recorder):
        self.broker = broker
        self.sim = sim
        self.clock = clock
        self.tmp_path = tmp_path
        self.recorder = recorder
        self.agent: Agent | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def config(self, **overrides: Any) -> dict[str, Any]:
        """The agent's config document for this world."""
        document: dict[str, Any] = {
            "operation_mode": "hems",
            "timezone": "Europe/Amsterdam",
            "state_dir": str(self.tmp_path / "state"),
            "mqtt": {"host": "127.0.0.1", "port": self.broker.port, "reconnect_min_s": 0.05, "reconnect_max_s": 0.2},
            "health": {"port": 0},
            "web": {"port": 0},
            "chargeamps": {
                "email": EMAIL,
                "password": PASSWORD,
                "base_url": self.sim.base_url,
                "charge_point_id": CP,
                "poll_interval_s": 60,
            },
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(document.get(key), dict):
                document[key] = {**document[key], **value}
            else:
                document[key] = value
        return document

    def launch_agent(self, **overrides: Any) -> Agent:
        """Start an agent on this world's broker and simulator; it comes online in the background."""
        path = self.tmp_path / "energy-agent.yaml"
        path.write_text(yaml.safe_dump(self.config(**overrides)))
        registry = collect(get_plugin_manager())
        settings = load_settings(registry, path, environ=False)
        self.agent = build_agent(settings, registry, clock=self.clock)
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.agent.run(self._stop))
        return self.agent

    async def kill_agent(self) -> None:
        """Stop the agent wherever it is, as a crash would (its shutdown still runs, as after an exception)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def start_agent(self, **overrides: Any) -> Agent:
        """Start an agent on this world's broker and simulator and wait until it is online."""
        self.launch_agent(**overrides)
        assert self.agent is not None
        async with asyncio.timeout(10):
            await self.agent.started.wait()
            await self.agent.bus.wait_connected()
        # subscriptions are in place once the agent has published its status
        await self.recorder.wait_for(f"{BASE}/status")
        return self.agent

    async def stop_agent(self) -> None:
        """Stop the agent the way SIGTERM does."""
        if self._task is not None:
            self._stop.set()
            await self._task
            self._task = None

    async def advance(self, seconds: float, step_s: float = 5.0) -> None:
        """Move the shared clock in steps, letting real socket work woken at each step finish (a little)."""
        left = seconds
        while left > 0:
            step = min(step_s, left)
            await self.clock.advance(step)
            await asyncio.sleep(0.003)
            left -= step

    async def publish(self, topic: str, payload: bytes | str, **kwargs: Any) -> None:
        """Publish as the HEMS would."""
        async with aiomqtt.Client(self.broker.host, self.broker.port, protocol=aiomqtt.ProtocolVersion.V5) as client:
            await client.publish(topic, payload, qos=1, **kwargs)

    async def command(self, payload: Any, *, topic: str = f"{BASE}/schedule/set") -> dict[str, Any]:
        """Send a command and return the result published for it."""
        before = len(self.recorder.payloads(f"{BASE}/schedule/result"))
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        await self.publish(topic, body)
        await eventually(lambda: len(self.recorder.payloads(f"{BASE}/schedule/result")) > before)
        result: dict[str, Any] = self.recorder.json(f"{BASE}/schedule/result")[before]
        return result

    async def command_over_time(self, payload: Any, *, topic: str = f"{BASE}/schedule/set") -> dict[str, Any]:
        """Send a command and move the clock on until it is answered (the cloud client backs off on the clock)."""
        results = f"{BASE}/schedule/result"
        before = len(self.recorder.payloads(results))
        await self.publish(topic, json.dumps(payload).encode())
        for _ in range(300):
            if len(self.recorder.payloads(results)) > before:
                result: dict[str, Any] = self.recorder.json(results)[before]
                return result
            await self.advance(1.0, step_s=0.5)
        raise AssertionError(f"no answer to {payload!r}")

    async def advance_until(self, condition: Callable[[], Any], *, limit_s: float = 120) -> None:
        """Move the clock on a second at a time until `condition()` holds (loops that sleep on it run)."""
        for _ in range(int(limit_s)):
            if condition():
                return
            await self.advance(1.0, step_s=1.0)
            await asyncio.sleep(0.01)
        assert condition()

    def status(self) -> dict[str, Any]:
        """The last status the agent published."""
        last: dict[str, Any] = self.recorder.json(f"{BASE}/status")[-1]
        return last

    def writes(self, route: str) -> list[Any]:
        """Request bodies the simulator received on one route."""
        return [entry.json_body for entry in self.sim.requests(route)]

    def check_contracts(self) -> int:
        """Validate every payload the agent published against its schema; returns how many were checked."""
        checked = 0
        for message in self.recorder.messages:
            topic = message.topic.value
            name = next((c for suffix, c in CONTRACT_FOR.items() if topic.endswith(suffix)), None)
            if name is None or "/cli/" in topic:
                continue
            raw = bytes(message.payload)  # type: ignore[arg-type]
            instance = raw.decode() if name == "hems/v1/availability" else json.loads(raw)
            problems = contracts.validate(name, instance)
            assert not problems, f"{topic}: {problems} in {instance}"
            checked += 1
        return checked


def hems_schedule(now: datetime, command_id: str, start_h: float = 2, end_h: float = 3) -> dict[str, Any]:
    """A HEMS schedule-set payload: one period `start_h`..`end_h` hours after `now` at 10 A, expiring at +12 h."""

    def at(hours: float) -> str:
        return (now + timedelta(hours=hours)).isoformat()

    return {
        "source": "hems",
        "command_id": command_id,
        "periods": [{"start": at(start_h), "end": at(end_h)}],
        "max_current": 10,
        "expires_at": at(12),
    }


@asynccontextmanager
async def world(
    broker: Broker, recorder: Recorder, tmp_path: Path, now: datetime, **sim_options: float
) -> AsyncIterator[World]:
    """Build the simulator (HALO with a car on connector 1) and yield the world; stop everything after."""
    clock = ManualClock(now)
    sim = Simulator(clock, **sim_options)
    sim.add_account(email=EMAIL, password=PASSWORD, api_key="api-key-secret")
    sim.add_charge_point(email=EMAIL, product="HALO", charge_point_id=CP)
    sim.plug_in_car(CP, connector_id=1, max_current_a=16.0, phases=3)
    await sim.start()
    instance = World(broker, sim, clock, tmp_path, recorder)
    try:
        yield instance
    finally:
        await instance.stop_agent()
        await sim.stop()
