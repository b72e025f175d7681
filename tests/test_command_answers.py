"""Issue 13, the command path: arrival order, machine-readable refusals, no stale replays, answers from the first
second. A real Mosquitto, the Charge Amps simulator over real HTTP with faults, a running agent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from energy_agent.api.errors import (
    DeviceAuthError,
    DeviceError,
    DeviceRejectedError,
    DeviceTimeoutError,
    DeviceUnavailableError,
)
from energy_agent.hems.reasons import Reason, reason_for
from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder
from energy_agent_chargeamps.simulator import Fault, FaultMode
from energy_agent_chargeamps.simulator.faults import ANY_ROUTE
from tests.world import AMS, BASE, PUT_ROUTE, World, eventually, hems_schedule, world

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
MODE_SET = "hems/agent/operation_mode/set"
MODE_RESULT = "hems/agent/operation_mode/result"
RESULT = f"{BASE}/schedule/result"
PRICES = str(Path(__file__).resolve().parents[1] / "examples" / "prices.json")


def at(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).isoformat()


def schedule(command_id: str, start_h: float = 2, end_h: float = 3) -> dict[str, Any]:
    return hems_schedule(NOW, command_id, start_h, end_h)


@pytest.fixture
async def w(broker: Broker, recorder: Recorder, tmp_path: Path) -> AsyncIterator[World]:
    async with world(broker, recorder, tmp_path, NOW) as instance:
        yield instance


def results(w: World, topic: str = RESULT) -> list[dict[str, object]]:
    return w.recorder.json(topic)


async def test_mode_commands_take_effect_in_arrival_order_with_a_slow_cloud(w: World) -> None:
    """Item 1: `standalone` then `hems` 0.3 s apart, each cloud call taking 1 s: hems holds at the end, and each
    answer names the mode that held once it took effect."""
    agent = await w.start_agent(prices={"source": "file", "path": PRICES})
    w.sim.inject(ANY_ROUTE, Fault.SLOW, mode=FaultMode.ALWAYS, delay_s=1.0)
    await w.publish(MODE_SET, b'{"operation_mode": "standalone", "command_id": "m1"}')
    await asyncio.sleep(0.3)
    await w.publish(MODE_SET, b'{"operation_mode": "hems", "command_id": "m2"}')
    await eventually(lambda: len(results(w, MODE_RESULT)) == 2, timeout_s=15)
    answers = [(r["command_id"], r["operation_mode"], r["accepted"]) for r in results(w, MODE_RESULT)]
    assert answers == [("m1", "standalone", True), ("m2", "hems", True)]
    await agent.bus.drain()
    w.sim.clear_faults()
    assert agent.modes.mode.value == "hems"
    assert agent.runtimes["charge-amps/1"].record.schedule is None  # no standalone plan left behind
    assert w.status()["operation_mode"] == "hems"


async def test_a_refusal_caused_by_a_cloud_outage_is_not_replayed(w: World) -> None:
    """Item 2: refused with `device_unavailable`, `retry: true` while the cloud answers 503; the same command sent
    again once the cloud is back is applied, also after a restart."""
    await w.start_agent()
    w.sim.inject(PUT_ROUTE, Fault.SERVER_ERROR, mode=FaultMode.ALWAYS, status=503)
    refused = await w.command_over_time(schedule("c-1"))
    assert (refused["accepted"], refused["reason"], refused["retry"]) == (False, "device_unavailable", True)
    assert refused["errors"][0]["message"].startswith("the device cannot be reached now")
    await w.stop_agent()
    w.sim.clear_faults()
    await w.start_agent()
    again = await w.command(schedule("c-1"))
    assert (again["accepted"], again["reason"], again["retry"]) == (True, None, False)
    assert len(w.writes(PUT_ROUTE)) >= 1
    await eventually(lambda: w.status()["last_command_result"] == "accepted")  # the status follows the answer
    # only an applied command is answered from memory: the same again makes no second write
    writes = len(w.sim.requests(PUT_ROUTE))
    assert (await w.command(schedule("c-1"))) == again
    assert len(w.sim.requests(PUT_ROUTE)) == writes


async def test_a_retained_schedule_set_is_refused_and_never_applied_even_after_a_restart(w: World) -> None:
    """Item 4: a retained command would be replayed at every restart, overwriting newer commands."""
    await w.start_agent()
    await w.publish(f"{BASE}/schedule/set", json.dumps(schedule("old")).encode(), retain=True)
    await eventually(lambda: len(results(w)) == 1)
    newer = await w.command(schedule("new", 4, 5))
    assert newer["accepted"] is True
    await w.stop_agent()
    await w.start_agent()
    await eventually(lambda: len(results(w)) == 3)
    first, _, replay = results(w)
    for answer in (first, replay):
        assert (answer["command_id"], answer["accepted"], answer["reason"], answer["retry"]) == (
            "old", False, "retained", False,
        )  # fmt: skip
    held = w.agent.runtimes["charge-amps/1"].record.schedule if w.agent else None
    assert held is not None and held.command_id == "new"
    assert w.status()["last_command_id"] == "old" and w.status()["schedule_source"] == "hems"
    # the mode topic refuses retained commands too, naming the mode in force
    await w.publish(MODE_SET, b"standalone", retain=True)
    await eventually(lambda: len(results(w, MODE_RESULT)) == 1)
    answer = results(w, MODE_RESULT)[0]
    assert (answer["accepted"], answer["reason"], answer["operation_mode"]) == (False, "retained", "hems")
    await w.publish(MODE_SET, b"", retain=True)  # tidy the broker for the next test
    await w.publish(f"{BASE}/schedule/set", b"", retain=True)


async def test_commands_are_answered_while_the_cloud_is_down_at_start(w: World) -> None:
    """Item 6: the devices cannot be discovered (cloud down), yet every command is answered at once."""
    w.sim.inject(ANY_ROUTE, Fault.SERVER_ERROR, mode=FaultMode.ALWAYS, status=503)
    agent = w.launch_agent(chargeamps={"charge_point_id": None})
    async with asyncio.timeout(10):
        while not agent.started.is_set():  # discovery gives up after its retries, on the clock
            await w.advance(1.0, step_s=0.5)
        await agent.bus.wait_connected()
    assert agent.runtimes == {}
    await asyncio.sleep(0.2)  # the wildcard subscriptions follow the connection
    answer = await w.command_over_time(schedule("early"))
    assert (answer["accepted"], answer["reason"], answer["retry"]) == (False, "device_unavailable", True)
    clear = await w.command_over_time({"command_id": "early-clear"}, topic=f"{BASE}/schedule/clear")
    assert (clear["command"], clear["reason"]) == ("clear", "device_unavailable")
    assert w.check_contracts() > 0


async def test_a_malformed_command_is_answered_at_once_not_behind_a_slow_write(w: World) -> None:
    """Item 10: a refusal needs no device, so it never waits for one."""
    await w.start_agent()
    w.sim.inject(PUT_ROUTE, Fault.SLOW, delay_s=3.0)
    await w.publish(f"{BASE}/schedule/set", json.dumps(schedule("slow")).encode())
    await asyncio.sleep(0.2)
    await w.publish(f"{BASE}/schedule/set", b'{"command_id": "junk", "periods": 3}')
    await eventually(lambda: len(results(w)) == 2, timeout_s=10)
    first, second = results(w)
    assert (first["command_id"], first["reason"]) == ("junk", "invalid")
    assert (second["command_id"], second["accepted"]) == ("slow", True)


async def test_a_command_to_an_unknown_device_is_answered(w: World) -> None:
    await w.start_agent()
    await w.publish("hems/charge-amps/nope/schedule/set", json.dumps(schedule("x")).encode())
    await eventually(lambda: len(w.recorder.json("hems/charge-amps/nope/schedule/result")) == 1)
    answer = w.recorder.json("hems/charge-amps/nope/schedule/result")[0]
    assert answer["reason"] == "invalid" and "known: 1" in answer["errors"][0]["message"]


async def test_standalone_refusals_say_wrong_mode(w: World) -> None:
    await w.start_agent(operation_mode="standalone")
    answer = await w.command(schedule("s"))
    assert (answer["accepted"], answer["reason"], answer["retry"]) == (False, "wrong_mode", False)
    assert w.sim.requests(PUT_ROUTE) == []


@pytest.mark.parametrize(
    ("error", "reason", "retry"),
    [
        (DeviceTimeoutError("no answer in 10 s"), Reason.TIMEOUT, True),
        (DeviceUnavailableError("503"), Reason.DEVICE_UNAVAILABLE, True),
        (DeviceAuthError("401"), Reason.DEVICE_AUTH, False),
        (DeviceRejectedError("400"), Reason.DEVICE_REJECTED, False),
        (DeviceError("odd"), Reason.DEVICE_REJECTED, False),
    ],
)
def test_each_device_failure_has_its_reason(error: DeviceError, reason: Reason, retry: bool) -> None:
    assert (reason_for(error), reason_for(error).retry) == (reason, retry)
