"""A real `energy-agent run` process: online, `offline` on SIGTERM, the last will after SIGKILL."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder

AVAILABILITY = "hems/agent/availability"


@pytest.fixture
def agent_process(broker: Broker, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    config = tmp_path / "energy-agent.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\nmqtt: {{port: {broker.port}}}\nhealth: {{port: 0}}\nweb: {{port: 0}}\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "energy_agent", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()


async def test_sigterm_publishes_offline_and_exits_within_5_s(
    agent_process: subprocess.Popen[bytes], recorder: Recorder
) -> None:
    await recorder.wait_for(AVAILABILITY, lambda p: p == b"online", timeout_s=15)
    agent_process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    while agent_process.poll() is None and time.monotonic() - started < 5:
        await asyncio.sleep(0.02)
    assert agent_process.returncode == 0, agent_process.stderr.read().decode() if agent_process.stderr else ""
    await recorder.wait_for(AVAILABILITY, lambda p: p == b"offline", timeout_s=2)
    log = agent_process.stderr.read().decode() if agent_process.stderr else ""
    assert "received SIGTERM" in log and "energy-agent stopping" in log


async def test_sigkill_leaves_the_retained_last_will(
    agent_process: subprocess.Popen[bytes], recorder: Recorder, broker: Broker
) -> None:
    await recorder.wait_for(AVAILABILITY, lambda p: p == b"online", timeout_s=15)
    agent_process.kill()
    agent_process.wait()
    await recorder.wait_for(AVAILABILITY, lambda p: p == b"offline", timeout_s=5)
    # retained: a client that connects afterwards still learns the agent is offline
    import aiomqtt

    async with aiomqtt.Client(broker.host, broker.port) as late:
        await late.subscribe(AVAILABILITY)
        async with asyncio.timeout(5):
            message = await anext(aiter(late.messages))
    assert message.payload == b"offline" and message.retain
