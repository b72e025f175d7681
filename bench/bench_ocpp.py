"""HEMS command -> charger answered Accepted -> result over local OCPP 1.6J, beside the cloud path and raw MQTT.

The agent runs in its own process (`bench.agent_proc`: `energy-agent run` with the installed plugins) as the central
system of one simulated charger (`energy_agent_ocpp.simulator`, in this process, over a real websocket on
loopback, a car plugged in). The HEMS side is one MQTT 5 client in this process. Raw round trips and commands are
measured interleaved, one of each in turn. Each command is a distinct, valid schedule (its current changes every
time), so each is a real write: validate, build the profile, SetChargingProfile to the charger and wait for its
`Accepted`, save the state, publish the status, answer. The cloud path beside it is `bench_latency`'s Charge Amps
simulator row (loopback HTTP, user-app API), measured in the same run on the same broker.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import (
    Listener,
    Outcome,
    agent_document,
    broker_bench_main,
    mqtt_client,
    proc_cpu_s,
    spawn_agent,
    stop_process,
    unique,
)
from bench.bench_latency import (
    CHARGE_POINT,
    EMAIL,
    PASSWORD,
    command,
    measure,
    round_trip,
    simulator,
    summary,
    warm_up,
)
from bench.broker import running_broker
from energy_agent.api.clock import SystemClock
from energy_agent.testing import free_port
from energy_agent_ocpp.simulator import Car, ChargerSimulator

OCPP_ID = "BENCH-HALO"
OCPP_PASSWORD = "bench-ocpp-password"


async def measure_ocpp(port: int, workdir: Path, samples: int) -> dict[str, Any]:
    """Start an agent as the central system of a simulated charger, then take `samples` raw round trips and
    `samples` command->result times, interleaved."""
    prefix = unique("ocpp")
    raw_topic = f"{prefix}-raw/echo"
    set_topic = f"{prefix}/ocpp/1/schedule/set"
    ocpp_port = free_port()
    section = {
        "listen": {"host": "127.0.0.1", "port": ocpp_port},
        "charge_points": [{"id": OCPP_ID, "password": OCPP_PASSWORD, "connectors": [1], "topic_ids": {1: "1"}}],
    }
    charger = ChargerSimulator(
        f"ws://127.0.0.1:{ocpp_port}", OCPP_ID, OCPP_PASSWORD, clock=SystemClock(), reconnect_delay_s=0.1
    )
    await charger.plug_in(1, Car())
    async with mqtt_client(port) as client:
        listener = Listener(client, prefix)
        pump = asyncio.create_task(listener.pump())
        for topic in (f"{prefix}/agent/availability", f"{prefix}/+/+/schedule/result", raw_topic):
            await client.subscribe(topic, qos=1)
        process, _ = spawn_agent(agent_document(workdir, port, prefix, ocpp=section), workdir)
        await charger.start()
        try:
            async with asyncio.timeout(30):
                await listener.online.wait()
                await charger.wait_connected()
                while not charger.calls_of("TriggerMessage"):  # set up: limits read, base profile written
                    await asyncio.sleep(0.01)
            await warm_up(client, listener, set_topic)
            writes_before = len(charger.calls_of("SetChargingProfile"))
            raw: list[float] = []
            commands: list[float] = []
            cpu_before = proc_cpu_s(process.pid)
            began = time.perf_counter()
            for index in range(samples):
                raw.append(await round_trip(client, listener, raw_topic, f"raw-{index}"))
                commands.append(await command(client, listener, set_topic, f"c{index}", index))
            elapsed = time.perf_counter() - began
            agent_cpu_s = proc_cpu_s(process.pid) - cpu_before
            writes = len(charger.calls_of("SetChargingProfile")) - writes_before
            accepted = sum(1 for p in charger.calls_of("SetChargingProfile")[writes_before:] if p["stack_level"] == 1)
        finally:
            exit_s = stop_process(process)
            await charger.stop()
            pump.cancel()
    return {
        "samples": samples,
        "raw_ms": raw,
        "command_ms": commands,
        "profile_writes": writes,
        "plan_profiles": accepted,
        "agent_cpu_ms_per_command": agent_cpu_s * 1000 / samples,
        "elapsed_s": elapsed,
        "agent_exit_s": exit_s,
    }


async def run_config(outcome: Outcome, label: str, port: int, workdir: Path, samples: int) -> dict[str, Any]:
    """Local OCPP, then the Charge Amps cloud simulator, on one broker."""
    local = await measure_ocpp(port, workdir / "ocpp", samples)
    sim = simulator()
    await sim.start()
    try:
        chargeamps = {"email": EMAIL, "password": PASSWORD, "base_url": sim.base_url, "charge_point_id": CHARGE_POINT}
        cloud = await measure(port, workdir / "cloud", "charge-amps", samples, {"chargeamps": chargeamps})
    finally:
        await sim.stop()
    raw, via_ocpp, via_cloud = summary(local["raw_ms"]), summary(local["command_ms"]), summary(cloud["command_ms"])
    outcome.add(
        f"[{label}] raw publish->receive p50 / p99 (baseline)", raw["p50"], "ms", detail=f"p99 {raw['p99']:.2f} ms"
    )
    outcome.add(f"[{label}] command->charger Accepted->result p50, local OCPP", via_ocpp["p50"], "ms",
                detail=f"{local['plan_profiles']} profiles Accepted for {samples} commands")  # fmt: skip
    outcome.add(f"[{label}] command->charger Accepted->result p99, local OCPP", via_ocpp["p99"], "ms",
                detail=f"max {via_ocpp['max']:.1f} ms")  # fmt: skip
    outcome.add(f"[{label}] command->result p50, Charge Amps cloud simulator", via_cloud["p50"], "ms",
                detail="loopback HTTP")  # fmt: skip
    outcome.add(f"[{label}] command->result p99, Charge Amps cloud simulator", via_cloud["p99"], "ms",
                detail=f"max {via_cloud['max']:.1f} ms")  # fmt: skip
    outcome.add(f"[{label}] agent CPU per command, local OCPP / cloud", local["agent_cpu_ms_per_command"], "ms",
                detail=f"cloud {cloud['agent_cpu_ms_per_command']:.2f} ms")  # fmt: skip
    if local["plan_profiles"] != samples:
        outcome.notes.append(
            f"[{label}] the charger got {local['plan_profiles']} plan profiles for {samples} commands: "
            "some commands were not writes"
        )
    return {
        "samples": samples,
        "raw_ms": raw,
        "command_ocpp_ms": via_ocpp,
        "command_cloud_simulator_ms": via_cloud,
        "ocpp_profile_writes": local["profile_writes"],
        "ocpp_plan_profiles": local["plan_profiles"],
        "agent_cpu_ms_per_command_ocpp": local["agent_cpu_ms_per_command"],
        "agent_cpu_ms_per_command_cloud": cloud["agent_cpu_ms_per_command"],
    }


async def main_async(port: int, quick: bool) -> Outcome:
    """On the given broker (mosquitto's defaults), then on one with `set_tcp_nodelay true`."""
    outcome = Outcome("ocpp_latency")
    samples = 50 if quick else 300
    with tempfile.TemporaryDirectory(prefix="bench-ocpp-") as tmp:
        work = Path(tmp)
        outcome.data["shipped"] = await run_config(outcome, "broker defaults", port, work / "a", samples)
        with running_broker(work / "broker", nodelay=True) as nodelay_broker:
            outcome.data["broker_nodelay"] = await run_config(
                outcome, "broker nodelay", nodelay_broker.port, work / "b", samples
            )
    outcome.notes.append(
        "local OCPP = the agent process as central system, the simulated charger in the benchmark process over a "
        "loopback websocket; the cloud row is a loopback HTTP simulator, so it shows the agent's own cost of the "
        "cloud path, not the internet's (a real cloud adds its round trips). 'broker nodelay' = mosquitto with "
        "set_tcp_nodelay true (see docs/benchmarks.md on Nagle's algorithm)."
    )
    return outcome


def main() -> None:
    """Start a broker unless --port names one, measure, emit."""
    broker_bench_main(__doc__, main_async)


if __name__ == "__main__":
    main()
