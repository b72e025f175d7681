"""HEMS command -> result latency over a real Mosquitto, beside the same broker's raw publish -> receive round trip.

The agent runs in its own process (`bench.agent_proc`). The HEMS side is one MQTT 5 client in this process. Raw
round trips and commands are measured interleaved (one of each, in turn) so that both see the same machine
noise. Each command is a distinct, valid schedule (the current changes every time), so every command is a real
device write: validate, write, persist the state, publish status, answer. Two device kinds:

* `bench` fake device: answers at once, no I/O; this is the figure checked against the target;
* the Charge Amps simulator over loopback HTTP (served in this process): the same path plus the cloud write.

Target: p99 command->result <= 3 x p99 raw round trip + 5 ms.
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
    median,
    mqtt_client,
    percentile,
    proc_cpu_s,
    schedule_command,
    spawn_agent,
    stop_process,
    unique,
)
from bench.broker import running_broker
from energy_agent.api.clock import SystemClock
from energy_agent_chargeamps.simulator import Simulator

EMAIL = "bench@example.com"
PASSWORD = "bench-password"
CHARGE_POINT = "HALO1"


async def measure(port: int, workdir: Path, device: str, samples: int, sections: dict[str, Any]) -> dict[str, Any]:
    """Start an agent, then take `samples` raw round trips and `samples` command->result times, interleaved."""
    prefix = unique("lat")
    raw_topic = f"{prefix}-raw/echo"
    set_topic = f"{prefix}/{device}/1/schedule/set"
    async with mqtt_client(port) as client:
        listener = Listener(client, prefix)
        pump = asyncio.create_task(listener.pump())
        for topic in (f"{prefix}/agent/availability", f"{prefix}/+/+/schedule/result", raw_topic):
            await client.subscribe(topic, qos=1)
        process, _ = spawn_agent(agent_document(workdir, port, prefix, **sections), workdir)
        try:
            async with asyncio.timeout(30):
                await listener.online.wait()
            await warm_up(client, listener, set_topic)
            raw: list[float] = []
            commands: list[float] = []
            cpu_before = proc_cpu_s(process.pid)
            began = time.perf_counter()
            for index in range(samples):
                raw.append(await round_trip(client, listener, raw_topic, f"raw-{index}"))
                commands.append(await command(client, listener, set_topic, f"c{index}", index))
            elapsed = time.perf_counter() - began
            agent_cpu_s = proc_cpu_s(process.pid) - cpu_before
        finally:
            exit_s = stop_process(process)
            pump.cancel()
    return {
        "samples": samples,
        "raw_ms": raw,
        "command_ms": commands,
        "agent_cpu_ms_per_command": agent_cpu_s * 1000 / samples,
        "elapsed_s": elapsed,
        "agent_exit_s": exit_s,
    }


async def warm_up(client: Any, listener: Listener, set_topic: str) -> None:
    """Wait until the agent answers a command, then send 20 more, not recorded.

    The device's command topics are subscribed a little after `online`: the first command is retried until one is
    answered."""
    for attempt in range(100):
        answered = listener.expect(f"warm-{attempt}")
        await client.publish(set_topic, schedule_command(f"warm-{attempt}", attempt), qos=1)
        try:
            async with asyncio.timeout(0.5):
                await answered
            break
        except TimeoutError:
            continue
    else:
        raise RuntimeError("the agent never answered a command")
    for index in range(20):
        await command(client, listener, set_topic, f"w{index}", 100 + index)


async def round_trip(client: Any, listener: Listener, topic: str, key: str) -> float:
    """One raw publish -> receive on the same client, in ms."""
    received = listener.expect(key)
    sent = time.perf_counter()
    await client.publish(topic, key.encode(), qos=1)
    async with asyncio.timeout(10):
        return (await received - sent) * 1000


async def command(client: Any, listener: Listener, topic: str, command_id: str, index: int) -> float:
    """One schedule command -> its result, in ms."""
    received = listener.expect(command_id)
    body = schedule_command(command_id, index)
    sent = time.perf_counter()
    await client.publish(topic, body, qos=1)
    async with asyncio.timeout(10):
        return (await received - sent) * 1000


def summary(ms: list[float]) -> dict[str, float]:
    """p50, p90, p99 and max in ms."""
    return {"p50": median(ms), "p90": percentile(ms, 90), "p99": percentile(ms, 99), "max": max(ms)}


def simulator() -> Simulator:
    """A Charge Amps cloud with one HALO and a car on connector 1, on the wall clock."""
    sim = Simulator(SystemClock())
    sim.add_account(email=EMAIL, password=PASSWORD, api_key="bench-key")
    sim.add_charge_point(email=EMAIL, product="HALO", charge_point_id=CHARGE_POINT)
    sim.plug_in_car(CHARGE_POINT, connector_id=1, max_current_a=16.0, phases=3)
    return sim


async def run_config(
    outcome: Outcome,
    label: str,
    port: int,
    workdir: Path,
    samples: int,
    *,
    cloud_samples: int,
) -> dict[str, Any]:
    """Fake device (and the simulator when `cloud_samples`) on one broker."""
    fake = await measure(port, workdir / "fake", "bench", samples, {"bench": {"count": 1}})
    raw, cmd = summary(fake["raw_ms"]), summary(fake["command_ms"])
    limit = 3 * raw["p99"] + 5
    found: dict[str, Any] = {"samples": samples, "raw_ms": raw, "command_fake_ms": cmd,
                             "agent_cpu_ms_per_command_fake": fake["agent_cpu_ms_per_command"]}  # fmt: skip
    outcome.add(f"[{label}] raw publish->receive p50 (baseline)", raw["p50"], "ms")
    outcome.add(f"[{label}] raw publish->receive p99 (baseline)", raw["p99"], "ms")
    outcome.add(f"[{label}] command->result p50, fake device", cmd["p50"], "ms",
                detail=f"{cmd['p50'] / raw['p50']:.1f}x raw p50")  # fmt: skip
    outcome.add(
        f"[{label}] command->result p99, fake device", cmd["p99"], "ms",
        target=f"<= 3x raw p99 + 5 = {limit:.1f} ms", ok=cmd["p99"] <= limit,
        detail=f"{cmd['p99'] / raw['p99']:.1f}x raw p99; limit {limit:.1f} ms",
    )  # fmt: skip
    outcome.add(f"[{label}] agent CPU per command, fake device", fake["agent_cpu_ms_per_command"], "ms")
    if cloud_samples:
        sim = simulator()
        await sim.start()
        try:
            chargeamps = {"email": EMAIL, "password": PASSWORD, "base_url": sim.base_url,
                          "charge_point_id": CHARGE_POINT}  # fmt: skip
            cloud = await measure(port, workdir / "sim", "charge-amps", cloud_samples, {"chargeamps": chargeamps})
            found["simulator_schedule_puts"] = len(sim.requests("PUT /api/smartChargingSchedules"))
        finally:
            await sim.stop()
        via_cloud = summary(cloud["command_ms"])
        found["command_simulator_ms"] = via_cloud
        found["simulator_samples"] = cloud_samples
        outcome.add(f"[{label}] command->result p50, Charge Amps simulator", via_cloud["p50"], "ms")
        outcome.add(f"[{label}] command->result p99, Charge Amps simulator", via_cloud["p99"], "ms")
    return found


async def main_async(port: int, quick: bool) -> Outcome:
    """Two set-ups: mosquitto as shipped, and mosquitto with Nagle's algorithm off (`set_tcp_nodelay true`)."""
    outcome = Outcome("hems_latency")
    samples = 60 if quick else 1000
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        work = Path(tmp)
        outcome.data["shipped"] = await run_config(
            outcome, "shipped", port, work / "a", samples, cloud_samples=0 if quick else 300
        )
        with running_broker(work / "broker", nodelay=True) as nodelay_broker:
            outcome.data["broker_nodelay_checked"] = await run_config(
                outcome, "broker nodelay", nodelay_broker.port, work / "c", samples, cloud_samples=30 if quick else 300
            )
    outcome.notes.append(
        "shipped = mosquitto's default config (set_tcp_nodelay false); broker nodelay = set_tcp_nodelay true in "
        "mosquitto.conf. The agent's socket has TCP_NODELAY, and so has the HEMS-side bench client."
    )
    return outcome


def main() -> None:
    """Start a broker unless --port names one, measure, emit."""
    broker_bench_main(__doc__, main_async)


if __name__ == "__main__":
    main()
