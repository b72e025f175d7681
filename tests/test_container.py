"""The container image: what the Dockerfile promises, and the health check against a real agent process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from energy_agent.testing.broker import free_port
from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder

ROOT = Path(__file__).resolve().parent.parent
HEALTHCHECK = ROOT / "docker" / "healthcheck.sh"
AVAILABILITY = "hems/agent/availability"


def instructions(path: Path) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = path.read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_root_dockerfile_runs_the_agent_as_a_non_root_user_with_a_health_check() -> None:
    lines = instructions(ROOT / "Dockerfile")
    assert lines[-1] == 'ENTRYPOINT ["energy-agent", "run", "--config", "/config/energy-agent.yaml"]'
    assert [line for line in lines if line.startswith("FROM ")][-1].startswith("FROM python:3.12-slim")
    user = [line for line in lines if line.startswith("USER ")]
    assert user == ["USER 10001:10001"]
    health = [line for line in lines if line.startswith("HEALTHCHECK ")]
    assert len(health) == 1 and "energy-agent-healthcheck" in health[0]
    assert "COPY docker/healthcheck.sh /usr/local/bin/energy-agent-healthcheck" in lines
    assert os.access(HEALTHCHECK, os.X_OK)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "tests", "state"} <= set(ignored)
    assert not {"energy_agent", "plugins", "contracts", "docker", "home-assistant"} & set(ignored)


def run_healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENERGY_AGENT_HEALTH_URL": f"http://127.0.0.1:{port}/healthz", "PYTHON": sys.executable}
    return subprocess.run(["sh", str(HEALTHCHECK)], env=env, capture_output=True, text=True, timeout=30)


@pytest.fixture
def agent_process(broker: Broker, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A real agent process with its health endpoint on a free port."""
    port = free_port()
    config = tmp_path / "energy-agent.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\nmqtt: {{port: {broker.port}, reconnect_max_s: 0.5}}\n"
        f"health: {{port: {port}}}\nweb: {{port: 0}}\n"
    )
    agent = subprocess.Popen(
        [sys.executable, "-m", "energy_agent", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield agent, port
    finally:
        if agent.poll() is None:
            agent.kill()
        agent.wait()


async def test_healthcheck_asks_the_agents_health_endpoint(
    agent_process: tuple[subprocess.Popen[bytes], int], broker: Broker, recorder: Recorder
) -> None:
    agent, port = agent_process
    await recorder.wait_for(AVAILABILITY, lambda p: p == b"online", timeout_s=15)
    healthy = await asyncio.to_thread(run_healthcheck, port)
    assert healthy.returncode == 0 and healthy.stdout.strip() == "healthy", healthy.stderr

    broker.stop()
    await asyncio.sleep(0.5)
    no_broker = await asyncio.to_thread(run_healthcheck, port)
    assert no_broker.returncode == 1 and "unhealthy: 503" in no_broker.stderr, no_broker.stderr
    assert "broker" in no_broker.stderr

    agent.send_signal(signal.SIGTERM)
    await asyncio.to_thread(agent.wait, 10)
    gone = await asyncio.to_thread(run_healthcheck, port)
    assert gone.returncode == 1 and "no answer" in gone.stderr
