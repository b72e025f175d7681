"""/healthz is unhealthy while the state file cannot be written, and healthy again after the next good write.

A real agent (the Charge Amps simulator, a private Mosquitto, the health endpoint over HTTP) has its state
directory made read-only; as root, where a mode does not stop a write, the state file's path is made a
directory instead, which no user can write a file over.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder
from tests.health_client import get, parse_prometheus, serving, value
from tests.world import AMS, World, world

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)


def schedule(command_id: str) -> dict[str, object]:
    return {
        "source": "hems",
        "command_id": command_id,
        "periods": [{"start": (NOW + timedelta(hours=2)).isoformat(), "end": (NOW + timedelta(hours=3)).isoformat()}],
        "max_current": 10,
        "expires_at": (NOW + timedelta(hours=12)).isoformat(),
    }


@pytest.fixture
async def hems(broker: Broker, recorder: Recorder, tmp_path: Path) -> AsyncIterator[World]:
    async with world(broker, recorder, tmp_path, NOW) as w:
        await w.start_agent()
        yield w


def break_state_writes(state_dir: Path) -> tuple[str, Callable[[], None]]:
    """Make every write of the state file fail; returns the reason it will give and a function that undoes it."""
    state_file = state_dir / "state.json"
    if os.geteuid() == 0:  # root writes through any mode: a directory in the file's place stops the rename
        state_file.unlink()
        state_file.mkdir()
        return "Is a directory", state_file.rmdir
    mode = stat.S_IMODE(state_dir.stat().st_mode)
    state_dir.chmod(0o500)
    return "Permission denied", lambda: state_dir.chmod(mode)


async def test_healthz_says_503_while_the_state_cannot_be_written_and_200_after_a_good_write(hems: World) -> None:
    agent = hems.agent
    assert agent is not None
    state_file = hems.tmp_path / "state" / "state.json"
    assert state_file.is_file()
    async with serving(agent) as url:
        healthy = await get(f"{url}/healthz")
        assert (healthy.status, healthy.json()) == (200, {"ok": True, "reasons": [], "warnings": []})

        reason, repair = break_state_writes(state_file.parent)
        try:
            assert (await hems.command(schedule("unsaved-1")))["accepted"] is True  # the agent keeps answering
            expected = f"state: cannot write state to {state_file}: {reason}"

            async def unhealthy() -> bool:
                answer = await get(f"{url}/healthz")
                return answer.status == 503 and answer.json()["reasons"] == [expected]

            await eventually_async(unhealthy)
            samples = parse_prometheus((await get(f"{url}/metrics")).text)
            assert value(samples, "energy_agent_state_write_ok") == 0
            # the write-ahead failed first; let the coalesced write after the command fail too, before the repair
            await agent.saver.flush()
        finally:
            repair()

        still = await get(f"{url}/healthz")  # nothing was written since: the failure still stands
        assert still.status == 503, still.text
        assert (await hems.command(schedule("saved-2")))["accepted"] is True

        async def healthy_again() -> bool:
            answer = await get(f"{url}/healthz")
            return answer.status == 200 and answer.json() == {"ok": True, "reasons": [], "warnings": []}

        await eventually_async(healthy_again)

        async def saved() -> bool:
            # the write-ahead before the device call (still without saved-2) may be the good write that made the
            # agent healthy; the write after the call follows within the save window
            return json.loads(state_file.read_text())["devices"]["charge-amps/1"]["last_command_id"] == "saved-2"

        await eventually_async(saved)


async def eventually_async(check: Callable[[], Awaitable[bool]], timeout_s: float = 5.0) -> None:
    """Wait in real time until `await check()` answers true; TimeoutError after `timeout_s`."""
    async with asyncio.timeout(timeout_s):
        while not await check():
            await asyncio.sleep(0.05)
