"""Faults that need a real `energy-agent run` process: a full disk, and 10,000 malformed payloads measured by RSS.

The process runs on the real clock against a private Mosquitto and the Charge Amps simulator in this test process.
SIGTERM and SIGKILL are in tests/test_process.py; the in-process faults in tests/test_faults.py.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import yaml

from energy_agent.api.clock import SystemClock
from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent_chargeamps.simulator import Simulator
from tests.agent_process import AgentProcess, running_agent_process
from tests.listening import listening, publish_once
from tests.world import BASE, CP, DELETE_ROUTE, EMAIL, PASSWORD, PUT_ROUTE

SET_TOPIC = f"{BASE}/schedule/set"
RESULT_TOPIC = f"{BASE}/schedule/result"
STATUS_TOPIC = f"{BASE}/status"


def schedule(command_id: str) -> dict[str, Any]:
    """A valid HEMS schedule starting in an hour (real time)."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    return {
        "source": "hems",
        "command_id": command_id,
        "periods": [{"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}],
        "max_current": 10,
        "expires_at": (start + timedelta(hours=6)).isoformat(),
    }


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """The simulator on the real clock, with a HALO and a car on connector 1."""
    instance = Simulator(SystemClock())
    instance.add_account(email=EMAIL, password=PASSWORD, api_key="api-key-secret")
    instance.add_charge_point(email=EMAIL, product="HALO", charge_point_id=CP)
    instance.plug_in_car(CP, connector_id=1, max_current_a=16.0, phases=3)
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


@asynccontextmanager
async def agent_process(
    tmp_path: Path,
    broker: Broker,
    sim: Simulator,
    *,
    file_size_limit_b: int | None = None,
    state_dir: Path | None = None,
) -> AsyncIterator[AgentProcess]:
    """Start the agent in HEMS mode (optionally unable to write files beyond `file_size_limit_b`), SIGTERM it after."""
    config = tmp_path / "energy-agent.yaml"
    state_dir = state_dir or tmp_path / "state"
    state_dir.mkdir(exist_ok=True)
    config.write_text(
        yaml.safe_dump(
            {
                "operation_mode": "hems",
                "timezone": "Europe/Amsterdam",
                "state_dir": str(state_dir),
                "mqtt": {"port": broker.port, "reconnect_min_s": 0.1, "reconnect_max_s": 1},
                "health": {"port": 0},
                "web": {"port": 0},
                "chargeamps": {"email": EMAIL, "password": PASSWORD, "base_url": sim.base_url, "charge_point_id": CP},
            }
        )
    )

    def limit_file_size() -> None:
        # Like a full disk: every write past the limit fails with EFBIG (Python ignores SIGXFSZ).
        if file_size_limit_b is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit_b, file_size_limit_b))

    async with running_agent_process(config, preexec_fn=limit_file_size) as running:
        yield running


async def wait_ready(broker: Broker) -> None:
    """The agent is online and has published its status (so it subscribed to its command topics)."""
    async with listening(broker, "hems/agent/availability", STATUS_TOPIC) as recorder:
        await recorder.wait_for("hems/agent/availability", lambda p: p == b"online", timeout_s=20)
        await recorder.wait_for(STATUS_TOPIC, timeout_s=10)


async def command(broker: Broker, payload: dict[str, Any]) -> dict[str, Any]:
    """Publish a command and return its answer."""
    async with listening(broker, RESULT_TOPIC) as recorder:
        await publish_once(broker, SET_TOPIC, json.dumps(payload))
        answer: dict[str, Any] = json.loads(await recorder.wait_for(RESULT_TOPIC, timeout_s=10))
    return answer


async def test_full_disk_logs_a_clear_error_and_the_agent_keeps_answering(
    broker: Broker, sim: Simulator, tmp_path: Path
) -> None:
    async with agent_process(tmp_path, broker, sim, file_size_limit_b=64) as agent:
        await wait_ready(broker)
        answer = await command(broker, schedule("disk-full-1"))
        assert answer["accepted"] is True and answer["command_id"] == "disk-full-1"
        assert len(sim.requests(PUT_ROUTE)) == 1
        assert agent.alive
        # state writes are coalesced and run off the event loop: give the one after the command a moment
        deadline = asyncio.get_running_loop().time() + 5
        while asyncio.get_running_loop().time() < deadline:
            errors = [line for line in agent.lines if "cannot write state to" in line]
            if len(errors) >= 2 and list((tmp_path / "state").iterdir()) == []:
                break
            await asyncio.sleep(0.05)
        assert errors and "File too large" in errors[0] and "keeps running" in errors[0], agent.log()
        assert list((tmp_path / "state").iterdir()) == []  # no partial state file, no temp file left behind
        async with listening(broker, STATUS_TOPIC) as recorder:  # the retained status: the schedule is in force
            status = json.loads(await recorder.wait_for(STATUS_TOPIC))
        assert status["schedule_source"] == "hems" and status["last_command_id"] == "disk-full-1"
    assert agent.process.returncode == 0, agent.log()


def malformed_payloads(count: int, seed: int, valid: bytes) -> Iterator[bytes]:
    """Payloads no schedule command may accept: broken, non-UTF-8, oversized, hostile shapes; all distinct."""
    rng = random.Random(seed)
    document = json.loads(valid)
    for i in range(count):
        tag = f"{seed}-{i}"
        kind = i % 10
        if kind == 0:
            yield bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) + tag.encode()
        elif kind == 1:
            yield b'{"source": "hems", "command_id": "\xc3\x28' + tag.encode() + b'"}'
        elif kind == 2:
            yield valid[: rng.randrange(1, len(valid) - 1)] + b" " * (i % 7) + tag.encode()
        elif kind == 3:
            yield json.dumps({"source": 7, "periods": {"start": tag}, "max_current": "ten"}).encode()
        elif kind == 4:
            depth = rng.randrange(1000, 4000)
            yield b"[" * depth + tag.encode() + b"]" * depth
        elif kind == 5:
            yield b'{"source": "hems", "periods": [], "note": "\\ud800' + tag.encode() + b'"}'
        elif kind == 6:
            yield b'{"source": "hems", "source": "' + tag.encode() + b'", "periods": []}'
        elif kind == 7:
            periods = document["periods"] * 97
            yield json.dumps({**document, "command_id": None, "periods": periods, "x": tag}).encode()
        elif kind == 8:
            yield json.dumps({"command_id": f"flood-{tag}", "periods": "all of them"}).encode()
        elif i % 100 == 9:
            yield b'{"source": "hems", "pad": "' + b"A" * rng.randrange(65_537, 140_000) + tag.encode() + b'"}'
        else:
            yield b'{"source": "hems", "max_current": NaN, "periods": [], "x": "' + tag.encode() + b'"}'


async def flood(broker: Broker, payloads: Iterator[bytes], *, batch: int = 500) -> tuple[int, int]:
    """Publish to the set topic in batches, each once the agent has answered the one before.

    Returns (sent, refused answers). QoS 0 both ways keeps the publisher cheap; the batches keep the broker's
    queues short, so a lost message would show as a missing answer.
    """
    answered = refused = 0
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe(RESULT_TOPIC, qos=0)

        async def count_answers() -> None:
            nonlocal answered, refused
            async for message in client.messages:
                answered += 1
                refused += b'"accepted":false' in message.payload

        counter = asyncio.create_task(count_answers())
        sent = 0
        try:
            while chunk := [p for _, p in zip(range(batch), payloads, strict=False)]:
                for payload in chunk:
                    await client.publish(SET_TOPIC, payload, qos=0)
                sent += len(chunk)
                async with asyncio.timeout(30):
                    while answered < sent:
                        await asyncio.sleep(0.005)
        finally:
            counter.cancel()
            await asyncio.gather(counter, return_exceptions=True)
    return sent, refused


async def settle_rss(agent: AgentProcess, is_idle: Callable[[], bool]) -> int:
    """The agent's RSS once its work is done (sampled until two readings agree)."""
    assert is_idle()
    await asyncio.sleep(0.3)
    previous = agent.rss_kib()
    for _ in range(10):
        await asyncio.sleep(0.1)
        current = agent.rss_kib()
        if abs(current - previous) < 64:
            return current
        previous = current
    return previous


@pytest.fixture
def ram_state_dir(tmp_path: Path) -> Iterator[Path]:
    """A state directory in RAM where the machine has /dev/shm, else under tmp_path.

    The agent saves its state (write, fsync, rename) after every answered command, refusals included; on a
    disk that is a millisecond or two per payload, which would make this test measure the disk, not the agent.
    """
    shm = Path("/dev/shm")
    if not shm.is_dir():
        yield tmp_path / "state"
        return
    with tempfile.TemporaryDirectory(dir=shm, prefix="energy-agent-test-") as directory:
        yield Path(directory)


async def test_ten_thousand_malformed_payloads_keep_memory_flat_and_write_nothing(
    broker: Broker, sim: Simulator, tmp_path: Path, ram_state_dir: Path
) -> None:
    valid = json.dumps(schedule("flood-valid")).encode()
    async with agent_process(tmp_path, broker, sim, state_dir=ram_state_dir) as agent:
        await wait_ready(broker)
        writes = (len(sim.requests(PUT_ROUTE)), len(sim.requests(DELETE_ROUTE)))
        sent, refused = await flood(broker, malformed_payloads(1000, 1, valid))  # warm-up: caches reach their size
        assert (sent, refused) == (1000, 1000)
        rss_start_kib = await settle_rss(agent, lambda: agent.alive)
        started = time.monotonic()
        sent, refused = await flood(broker, malformed_payloads(10_000, 2, valid))
        elapsed_s = time.monotonic() - started
        rss_end_kib = await settle_rss(agent, lambda: agent.alive)
        growth_kib = rss_end_kib - rss_start_kib
        print(
            f"\n{sent} malformed payloads in {elapsed_s:.1f} s ({sent / elapsed_s:.0f}/s), each refused: {refused}; "
            f"agent RSS {rss_start_kib / 1024:.1f} MiB after a 1,000-payload warm-up, {rss_end_kib / 1024:.1f} MiB "
            f"after 10,000 more ({growth_kib:+d} KiB)"
        )
        assert (sent, refused) == (10_000, 10_000)
        assert growth_kib < 3 * 1024, f"RSS grew by {growth_kib} KiB over 10,000 refused payloads"
        assert (len(sim.requests(PUT_ROUTE)), len(sim.requests(DELETE_ROUTE))) == writes == (0, 0)
        assert agent.alive
        answer = await command(broker, schedule("after-flood"))
        assert answer["accepted"] is True  # still answering real commands
        assert len(sim.requests(PUT_ROUTE)) == 1
        assert not [line for line in agent.lines if "Traceback" in line or " ERROR " in line]
    assert agent.process.returncode == 0
