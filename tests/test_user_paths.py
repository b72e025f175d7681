"""Users' paths, followed the way users take them: the README's run command, check-config before run, and the
Home Assistant app's start with the predecessor's options. Each runs the real `energy-agent` script as a process.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from energy_agent.api.clock import SystemClock
from energy_agent.testing.mosquitto import Mosquitto
from energy_agent.testing.recorder import Recorder
from energy_agent_chargeamps.simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
OPTIONS_FIXTURE = Path(__file__).parent / "fixtures" / "ha-options.predecessor.json"


def user_env(**extra: str) -> dict[str, str]:
    """A user's shell: no ENERGY_AGENT_* of the caller, the venv's scripts on PATH, health and web on free ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENERGY_AGENT_", "HA_MQTT_", "SUPERVISOR_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["ENERGY_AGENT_HEALTH__PORT"] = "0"  # this machine may run an agent on the default port
    env["ENERGY_AGENT_WEB__PORT"] = "0"
    env.update(extra)
    return env


@asynccontextmanager
async def process(argv: list[str], *, cwd: Path, env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    """A process for the block; SIGTERM (and a wait of at most 10 s) when the block ends."""
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`energy-agent ARGS` to its end, as typed in a shell."""
    argv = ["energy-agent", *args]
    return await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, env=env, check=False)


def readme_command(starts_with: str) -> str:
    """The README's command line that starts with `starts_with`, comment cut off."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = [line.split("#", 1)[0].strip() for line in readme.splitlines()]
    found = [line for line in lines if line.startswith(starts_with)]
    assert len(found) == 1, f"README: expected one line starting with {starts_with!r}, found {found}"
    return found[0]


async def test_the_readme_run_command_comes_online_and_stops_cleanly(
    broker: Mosquitto, recorder: Recorder, tmp_path: Path
) -> None:
    command = readme_command(".venv/bin/energy-agent run --config examples/energy-agent.yaml")
    # a clone's layout: the venv and the examples where the README's relative paths expect them
    (tmp_path / ".venv").symlink_to(BIN.parent)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = user_env(ENERGY_AGENT_MQTT__PORT=str(broker.port))  # the broker override the README documents
    async with process(shlex.split(command), cwd=tmp_path, env=env) as agent:
        await recorder.wait_for("hems/agent/availability", lambda p: p == b"online", timeout_s=15)
        agent.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(agent.wait(), timeout=5) == 0
        stderr = (await agent.stderr.read()).decode() if agent.stderr else ""
    await recorder.wait_for("hems/agent/availability", lambda p: p == b"offline", timeout_s=2)
    assert (tmp_path / "state" / "state.json").is_file(), "state_dir: ./state is relative to where it runs"
    assert not [line for line in stderr.splitlines() if " ERROR " in line or "Traceback" in line], stderr


async def test_check_config_then_run_with_the_same_file(broker: Mosquitto, recorder: Recorder, tmp_path: Path) -> None:
    config = tmp_path / "energy-agent.yaml"
    config.write_text(
        f"operation_mode: hems\nstate_dir: {tmp_path / 'state'}\n"
        f"mqtt: {{port: {broker.port}, username: null, password: broker-secret-123}}\n"
        "standalone: {price_threshold: 0.2}\n"
    )
    env = user_env()
    checked = await cli(["check-config", "--config", str(config)], env)
    assert checked.returncode == 0, checked.stderr
    assert "broker-secret-123" not in checked.stdout and "**********" in checked.stdout
    assert "price_threshold: 0.2" in checked.stdout and "operation_mode: hems" in checked.stdout
    typo = tmp_path / "typo.yaml"
    typo.write_text(config.read_text().replace("price_threshold", "price_treshold"))
    refused = await cli(["check-config", "--config", str(typo)], env)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "error: standalone.price_treshold: unknown key; did you mean 'price_threshold'?"
    async with process(["energy-agent", "run", "--config", str(config)], cwd=tmp_path, env=env):
        await recorder.wait_for("hems/agent/availability", lambda p: p == b"online", timeout_s=15)
        settings = json.loads(await recorder.wait_for("hems/agent/settings", timeout_s=10))
        assert settings["operation_mode"] == "hems" and settings["price_threshold"] == 0.2


async def test_the_home_assistant_app_starts_from_the_predecessor_options(
    broker: Mosquitto, recorder: Recorder, tmp_path: Path
) -> None:
    """What the app's run.sh does: the Supervisor's MQTT service in HA_MQTT_*, then `run --ha-options`."""
    sim = Simulator(SystemClock())
    options = json.loads(OPTIONS_FIXTURE.read_text())
    sim.add_account(email=options["email"], password=options["password"], api_key="unused")
    sim.add_charge_point(email=options["email"], product="HALO", charge_point_id="HALO-APP")
    sim.plug_in_car("HALO-APP", connector_id=1, max_current_a=16.0, phases=3)
    await sim.start()
    try:
        options.update(base_url=sim.base_url, mqtt_host="", mqtt_port=None)  # the app leaves them to the service
        path = tmp_path / "options.json"
        path.write_text(json.dumps(options))
        env = user_env(
            HA_MQTT_HOST="127.0.0.1",
            HA_MQTT_PORT=str(broker.port),
            HA_MQTT_USERNAME="",
            HA_MQTT_PASSWORD="",
            HA_MQTT_SSL="false",
            SUPERVISOR_TOKEN="app-supervisor-token",
            ENERGY_AGENT_STATE_DIR=str(tmp_path / "state"),  # /data/state in the app
        )
        argv = ["energy-agent", "run", "--ha-options", str(path), "--log-level", "info"]
        async with process(argv, cwd=tmp_path, env=env) as agent:
            await recorder.wait_for("hems/agent/availability", lambda p: p == b"online", timeout_s=15)
            for connector in (1, 2):  # the predecessor's connector_ids "1, 2"
                await recorder.wait_for(f"hems/charge-amps/{connector}/status", timeout_s=10)
            discovery = json.loads(
                await recorder.wait_for("homeassistant/device/energy_agent_charge-amps_1/config", timeout_s=10)
            )
            assert discovery["dev"]["name"].endswith("connector 1")
            settings = json.loads(await recorder.wait_for("hems/agent/settings", timeout_s=10))
            assert (settings["price_threshold"], settings["top_x_charge_count"]) == (0.26, 4)
            agent.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(agent.wait(), timeout=5) == 0
            log = (await agent.stderr.read()).decode() if agent.stderr else ""
        for secret in (options["password"], "app-supervisor-token"):
            assert secret not in log
        assert re.search(r"devices: charge-amps/1, charge-amps/2", log), log
    finally:
        await sim.stop()
