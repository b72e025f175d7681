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

from tests.broker import Broker
from tests.conftest import Recorder

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


def run_healthcheck(pid: int, config: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ENERGY_AGENT_PID": str(pid),
        "ENERGY_AGENT_CONFIG": str(config),
        "PYTHON": sys.executable,
    }
    return subprocess.run(["sh", str(HEALTHCHECK)], env=env, capture_output=True, text=True, timeout=30)


@pytest.fixture
def processes(
    broker: Broker, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], Path]]:
    """A real agent process, a live look-alike whose command line names the agent, and the agent's config."""
    config = tmp_path / "energy-agent.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nmqtt: {{port: {broker.port}}}\n")
    agent = subprocess.Popen(
        [sys.executable, "-m", "energy_agent", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lookalike = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "energy-agent"])
    try:
        yield agent, lookalike, config
    finally:
        for process in (agent, lookalike):
            if process.poll() is None:
                process.kill()
            process.wait()


async def test_healthcheck_follows_the_process_and_its_availability(
    processes: tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], Path], broker: Broker, recorder: Recorder
) -> None:
    agent, lookalike, config = processes
    await recorder.wait_for(AVAILABILITY, lambda p: p == b"online", timeout_s=15)
    healthy = await asyncio.to_thread(run_healthcheck, agent.pid, config)
    assert healthy.returncode == 0 and healthy.stdout.strip() == "healthy", healthy.stderr

    agent.send_signal(signal.SIGTERM)
    await asyncio.to_thread(agent.wait, 10)
    gone = await asyncio.to_thread(run_healthcheck, agent.pid, config)
    assert gone.returncode == 1 and "no energy-agent process" in gone.stderr

    # The look-alike passes the process check, so the retained `offline` decides.
    offline = await asyncio.to_thread(run_healthcheck, lookalike.pid, config)
    assert offline.returncode == 1 and "availability is offline" in offline.stderr

    broker.stop()
    unreachable = await asyncio.to_thread(run_healthcheck, lookalike.pid, config)
    assert unreachable.returncode == 1 and "availability unknown" in unreachable.stderr
