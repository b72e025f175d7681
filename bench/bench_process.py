"""A real `energy-agent run` process: time from process start to the retained `online`, and idle resident memory.

The process is started with `.venv/bin/energy-agent run --config FILE` (the installed console script, every
installed plugin loaded). This process subscribes to `{prefix}/agent/availability` before starting it (a fresh
prefix each run, so no retained message of an earlier run can answer) and takes the time from just before
`Popen` to the arrival of `online`. Memory is read from /proc/PID/status (VmRSS, and VmHWM for the peak) once the
agent has published its device status and then sat idle for 2 s. Two set-ups:

* `no devices`: only the MQTT connection (the smallest agent);
* `one charger`: one Charge Amps connector on the simulator (served by this process over loopback HTTP), the
  realistic home set-up, and the one judged.

Targets: 60 MB idle RSS, 1.5 s to `online`. Shutdown time after SIGTERM is reported too (the contract says 5 s).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench._common import (
    ROOT,
    Listener,
    Outcome,
    agent_document,
    broker_bench_main,
    median,
    mqtt_client,
    proc_status,
    stop_process,
    unique,
)
from energy_agent.api.clock import SystemClock
from energy_agent_chargeamps.simulator import Simulator

EMAIL = "bench@example.com"
PASSWORD = "bench-password"
CHARGE_POINT = "HALO1"
IDLE_S = 2.0
TARGET_RSS_MB = 60
TARGET_ONLINE_S = 1.5


def console_script() -> list[str]:
    """The installed `energy-agent` next to this interpreter, else `python -m energy_agent`."""
    script = Path(sys.executable).parent / "energy-agent"
    return [str(script)] if script.exists() else [sys.executable, "-m", "energy_agent"]


def write_config(port: int, workdir: Path, prefix: str, sections: dict[str, Any]) -> Path:
    """The run's config file (standalone mode, no price source)."""
    workdir.mkdir(parents=True)
    config = workdir / "energy-agent.yaml"
    config.write_text(yaml.safe_dump(agent_document(workdir, port, prefix, mode="standalone", **sections)))
    return config


def start(config: Path, workdir: Path) -> subprocess.Popen[bytes]:
    """`energy-agent run --config FILE`, its output to workdir/agent.log."""
    with (workdir / "agent.log").open("wb") as log:
        return subprocess.Popen(
            [*console_script(), "run", "--config", str(config)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )


async def one_run(port: int, workdir: Path, sections: dict[str, Any], status_topics: int) -> dict[str, Any]:
    """Start the process, time `online`, wait for the statuses and idle, read memory, stop it."""
    prefix = unique("proc")
    config = write_config(port, workdir, prefix, sections)
    async with mqtt_client(port) as client:
        listener = Listener(client, prefix)
        pump = asyncio.create_task(listener.pump())
        await client.subscribe(f"{prefix}/agent/availability", qos=1)
        await client.subscribe(f"{prefix}/+/+/status", qos=1)
        began = time.perf_counter()
        process = start(config, workdir)
        try:
            async with asyncio.timeout(30):
                await listener.online.wait()
            online_s = time.perf_counter() - began
            async with asyncio.timeout(30):
                while len(listener.statuses) < status_topics:
                    listener.status_changed.clear()
                    await listener.status_changed.wait()
            ready_s = time.perf_counter() - began
            await asyncio.sleep(IDLE_S)
            memory = proc_status(process.pid)
        finally:
            exit_s = stop_process(process)
            pump.cancel()
    return {"online_s": online_s, "statuses_s": ready_s, "rss_mb": memory["VmRSS"], "peak_mb": memory["VmHWM"],
            "exit_s": exit_s, "returncode": process.returncode}  # fmt: skip


async def main_async(port: int, quick: bool) -> Outcome:
    """Both set-ups, several runs each; medians."""
    outcome = Outcome("process")
    runs = 1 if quick else 5
    sim = Simulator(SystemClock())
    sim.add_account(email=EMAIL, password=PASSWORD, api_key="bench-key")
    sim.add_charge_point(email=EMAIL, product="HALO", charge_point_id=CHARGE_POINT)
    sim.plug_in_car(CHARGE_POINT, connector_id=1, max_current_a=16.0, phases=3)
    await sim.start()
    chargeamps = {"email": EMAIL, "password": PASSWORD, "base_url": sim.base_url, "charge_point_id": CHARGE_POINT}
    setups: dict[str, tuple[dict[str, Any], int]] = {
        "no devices": ({}, 0),
        "one charger": ({"chargeamps": chargeamps}, 1),
    }
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in setups}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-process-") as tmp:
            for index in range(runs):  # alternate the set-ups so that both see the same noise
                for name, (sections, statuses) in setups.items():
                    workdir = Path(tmp) / f"{name.replace(' ', '-')}-{index}"
                    found[name].append(await one_run(port, workdir, sections, statuses))
    finally:
        await sim.stop()
    for name, results in found.items():
        judged = name == "one charger"
        online = median([r["online_s"] for r in results])
        rss = median([r["rss_mb"] for r in results])
        outcome.add(
            f"start -> retained online ({name})", online, "s", target=f"<= {TARGET_ONLINE_S} s" if judged else None,
            ok=online <= TARGET_ONLINE_S if judged else None, detail=f"median of {runs}",
        )  # fmt: skip
        outcome.add(
            f"idle RSS ({name})", rss, "MB", target=f"<= {TARGET_RSS_MB} MB" if judged else None,
            ok=rss <= TARGET_RSS_MB if judged else None,
            detail=f"peak {median([r['peak_mb'] for r in results]):.1f} MB; median of {runs}",
        )  # fmt: skip
        exits = [r["exit_s"] for r in results]
        outcome.add(
            f"SIGTERM -> exit ({name})", None if None in exits else max(exits), "s", target="<= 5 s",
            ok=None not in exits and max(exits) <= 5 and all(r["returncode"] == 0 for r in results),
            detail=f"max of {runs}",
        )  # fmt: skip
    outcome.data = {"runs": found, "command": [*console_script(), "run", "--config", "FILE"]}
    return outcome


def main() -> None:
    """Start a broker unless --port names one, measure, emit."""
    broker_bench_main(__doc__, main_async)


if __name__ == "__main__":
    main()
