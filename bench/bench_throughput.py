"""Sustained HEMS commands per second across 100 connectors (100 fake devices in one agent), none lost or doubled.

The agent runs in its own process (`bench.agent_proc`, 100 `bench` fake devices that answer at once, log level
info as shipped). The HEMS side is one MQTT 5 client in this process running a closed loop: two commands in flight
per device (200 in all; one per device with --quick), each a distinct valid schedule, so every command is a device
write. Results are counted per command id: a command with no result within 10 s is lost, one with two results is
doubled.

Baseline, same generator and broker: `bench.echo_proc`, a trivial one-client Python responder that answers every
command without validating, writing or persisting anything. Target: half the baseline's rate (the machine is
shared and noisy; a ratio to a baseline measured in the same run is what can be compared).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._common import (
    PYTHON,
    ROOT,
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

DEVICES = 100
IN_FLIGHT_PER_DEVICE = 2
TARGET_RATIO = 0.5
"""Issue 12: answer at least half as many commands per second as a responder that does nothing."""


async def drive(
    port: int, prefix: str, start: Callable[[], subprocess.Popen[bytes]], duration_s: float, in_flight: int
) -> dict[str, Any]:
    """Start the responder with `start`, warm up, then run the closed loop for `duration_s` and count."""
    async with mqtt_client(port) as client:
        listener = Listener(client, prefix)
        pump = asyncio.create_task(listener.pump())
        await client.subscribe(f"{prefix}/agent/availability", qos=1)
        await client.subscribe(f"{prefix}/+/+/schedule/result", qos=1)
        process = start()
        try:
            async with asyncio.timeout(30):
                await listener.online.wait()
            await warm_up(client, listener, prefix)
            counter = itertools.count()
            next_index = dict.fromkeys(range(1, DEVICES + 1), 1000)
            sent: list[str] = []
            latencies: list[float] = []
            in_window = 0
            timed_out = 0
            now = datetime.now(UTC)
            cpu_before = proc_cpu_s(process.pid)
            began = time.perf_counter()
            stop_at = began + duration_s

            async def sender(device: int) -> None:
                nonlocal in_window, timed_out
                topic = f"{prefix}/bench/{device}/schedule/set"
                while time.perf_counter() < stop_at:
                    command_id = f"t{next(counter)}"
                    index = next_index[device]
                    next_index[device] += 1
                    answered = listener.expect(command_id)
                    sent.append(command_id)
                    posted = time.perf_counter()
                    await client.publish(topic, schedule_command(command_id, index, now=now), qos=1)
                    try:
                        async with asyncio.timeout(10):
                            received = await answered
                    except TimeoutError:
                        timed_out += 1
                        continue
                    latencies.append((received - posted) * 1000)
                    if received <= stop_at:
                        in_window += 1

            await asyncio.gather(*(sender(d) for d in range(1, DEVICES + 1) for _ in range(in_flight)))
            cpu_s = proc_cpu_s(process.pid) - cpu_before
            await asyncio.sleep(min(1.0, duration_s / 4))  # late duplicates would arrive here
        finally:
            exit_s = stop_process(process)
            pump.cancel()
    counts = [listener.result_counts.get(command_id, 0) for command_id in sent]
    return {
        "duration_s": duration_s,
        "sent": len(sent),
        "answered": sum(1 for c in counts if c >= 1),
        "answered_in_window": in_window,
        "per_s": in_window / duration_s,
        "lost": sum(1 for c in counts if c == 0),
        "doubled": sum(1 for c in counts if c > 1),
        "timed_out": timed_out,
        "latency_ms": {"p50": median(latencies), "p99": percentile(latencies, 99)} if latencies else {},
        "responder_cpu_s": cpu_s,
        "responder_cpu_ms_per_command": cpu_s * 1000 / max(1, in_window),
        "responder_exit_s": exit_s,
    }


async def warm_up(client: Any, listener: Listener, prefix: str) -> None:
    """One answered command per device (the agent subscribes to device topics a little after `online`): send to
    every device at once, then again to those that did not answer within 2 s."""
    waiting = list(range(1, DEVICES + 1))
    for attempt in range(20):
        answers = {}
        for device in waiting:
            command_id = f"warm-{device}-{attempt}"
            answers[device] = listener.expect(command_id)
            body = schedule_command(command_id, attempt)
            await client.publish(f"{prefix}/bench/{device}/schedule/set", body, qos=1)
        await asyncio.wait(list(answers.values()), timeout=2.0)
        waiting = [device for device, answer in answers.items() if not answer.done()]
        if not waiting:
            return
    raise RuntimeError(f"devices {waiting[:5]}... never answered")


async def run_agent(port: int, work: Path, duration_s: float, in_flight: int) -> dict[str, Any]:
    """The closed loop against an agent with 100 fake devices."""
    prefix = unique("tput")
    document = agent_document(work, port, prefix, bench={"count": DEVICES})
    stats_file: list[Path] = []

    def start_agent() -> subprocess.Popen[bytes]:
        process, stats = spawn_agent(document, work)
        stats_file.append(stats)
        return process

    found = await drive(port, prefix, start_agent, duration_s, in_flight)
    found["agent_stats"] = json.loads(stats_file[0].read_text()) if stats_file[0].exists() else None
    return found


async def main_async(port: int, quick: bool) -> Outcome:
    """The echo baseline, then the agent."""
    outcome = Outcome("throughput")
    duration_s = 2.5 if quick else 15.0
    in_flight = 1 if quick else IN_FLIGHT_PER_DEVICE
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        work = Path(tmp)
        echo_prefix = unique("echo")
        echo = await drive(
            port,
            echo_prefix,
            lambda: subprocess.Popen(
                [PYTHON, "-m", "bench.echo_proc", "--port", str(port), "--prefix", echo_prefix], cwd=ROOT
            ),
            duration_s,
            in_flight,
        )
        shipped = await run_agent(port, work / "agent", duration_s, in_flight)
    outcome.add("echo responder (baseline)", echo["per_s"], "cmd/s", detail=f"{echo['answered_in_window']} in "
                f"{duration_s:.0f} s, lost {echo['lost']}, doubled {echo['doubled']}")  # fmt: skip
    ratio = shipped["per_s"] / echo["per_s"] if echo["per_s"] else float("nan")
    outcome.add(
        "agent, 100 fake devices", shipped["per_s"], "cmd/s", target=f">= {TARGET_RATIO}x echo",
        ok=ratio >= TARGET_RATIO, detail=f"{ratio:.2f}x echo baseline",
    )  # fmt: skip
    bad = shipped["lost"] + shipped["doubled"]
    outcome.add(
        "agent: lost + doubled results", bad, "", target="0", ok=bad == 0,
        detail=f"{shipped['sent']} sent, lost {shipped['lost']}, doubled {shipped['doubled']}",
    )  # fmt: skip
    outcome.add("agent: CPU per command", shipped["responder_cpu_ms_per_command"], "ms")
    outcome.add("agent: command->result p50 under load", shipped["latency_ms"].get("p50"), "ms")
    outcome.add("agent: command->result p99 under load", shipped["latency_ms"].get("p99"), "ms")
    outcome.data = {"echo": echo, "agent": shipped, "devices": DEVICES,
                    "in_flight": DEVICES * in_flight}  # fmt: skip
    return outcome


def main() -> None:
    """Start a broker unless --port names one, measure, emit."""
    broker_bench_main(__doc__, main_async)


if __name__ == "__main__":
    main()
