"""One agent with 1,000 fake connectors: start-up, status cycle time, CPU and resident memory.

This process is the agent (its figures are not mixed with a test client's): an `Agent` built exactly as
`energy-agent run` builds it, on the wall clock, with 1,000 `bench` fake devices (answer at once) polled every 5 s
(2 s with --quick) instead of the default 60 s, so that several status cycles fit in a short run. The device loops
start together and stay in step, so every interval brings a burst: each loop polls its device and publishes its
retained status (QoS 1). The cycle time is the burst's span, from the first to the last status acknowledged by the
broker. CPU per cycle is this process's CPU time (user + system) over whole intervals divided by the number of
intervals, so it includes everything the agent does in an interval. Memory is VmRSS and VmHWM (peak) from
/proc/self/status. Start-up is timed to every device's first status acknowledged and to the agent going idle.
Target: 150 MB resident with 1,000 connectors.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import fake_devices
from bench._common import Outcome, agent_document, broker_bench_main, median, proc_status, unique
from energy_agent.app.compose import build_agent
from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.config import load_settings

CONNECTORS = 1000
QUICK_CONNECTORS = 200
INTERVAL_S = 5.0
TARGET_MB = 150


class Counter:
    """Which devices' status publishes the broker acknowledged since `reset` (publishes while disconnected, which
    the agent skips quietly, do not count)."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.total = 0
        self.changed = asyncio.Event()

    def reset(self) -> None:
        """Start a new cycle."""
        self.keys.clear()

    def add(self, topic: str) -> None:
        """One acknowledged publish on `topic`."""
        if topic.endswith("/status"):
            self.keys.add(topic)
            self.total += 1
            self.changed.set()

    async def wait(self, count: int, timeout_s: float) -> None:
        """Until `count` distinct devices were published."""
        async with asyncio.timeout(timeout_s):
            while len(self.keys) < count:
                self.changed.clear()
                await self.changed.wait()


async def wait_quiet(timeout_s: float, window_s: float = 0.1) -> float:
    """Until the event loop answers a short sleep on time and the process uses little CPU, three windows in a row
    (the agent has worked off what start-up queued). Returns the seconds waited."""
    began = time.perf_counter()
    calm = 0
    async with asyncio.timeout(timeout_s):
        while calm < 3:
            t0, cpu0 = time.perf_counter(), time.process_time()
            await asyncio.sleep(window_s)
            elapsed = time.perf_counter() - t0
            busy = (time.process_time() - cpu0) / elapsed
            calm = calm + 1 if elapsed < window_s * 1.5 and busy < 0.1 else 0
    return time.perf_counter() - began


def bursts(times: list[float], gap_s: float) -> list[list[float]]:
    """Split sorted times into bursts separated by more than `gap_s`."""
    found: list[list[float]] = []
    for moment in times:
        if found and moment - found[-1][-1] <= gap_s:
            found[-1].append(moment)
        else:
            found.append([moment])
    return found


async def measure(port: int, workdir: Path, connectors: int, cycles: int, interval_s: float) -> dict[str, Any]:
    """Start the agent, wait for every first status and for quiet, then watch `cycles` status cycles."""
    rss_before = proc_status()
    pm = get_plugin_manager()
    pm.register(fake_devices, name="bench")
    registry = collect(pm)
    prefix = unique("scale")
    document = agent_document(workdir, port, prefix, bench={"count": connectors, "status_interval_s": interval_s})
    settings = load_settings(registry, data=document, environ=False)
    agent = build_agent(settings, registry)
    counter = Counter()
    acknowledged: list[float] = []
    publish = agent.bus.publish

    async def counted(topic: str, payload: bytes | str, **kwargs: Any) -> None:
        await publish(topic, payload, **kwargs)
        counter.add(topic)
        if topic.endswith("/status"):
            acknowledged.append(time.perf_counter())

    send = agent.bus.send

    def sent(topic: str, payload: bytes | str, **kwargs: Any) -> None:
        send(topic, payload, **kwargs)  # queued for the broker; statuses are not waited for
        counter.add(topic)
        if topic.endswith("/status"):
            acknowledged.append(time.perf_counter())

    agent.bus.publish = counted  # type: ignore[method-assign]
    agent.bus.send = sent  # type: ignore[method-assign]
    stop = asyncio.Event()
    cpu_start = time.process_time()
    began = time.perf_counter()
    task = asyncio.create_task(agent.run(stop))
    async with asyncio.timeout(300):
        await agent.started.wait()
    started_s = time.perf_counter() - began
    await counter.wait(connectors, 300)
    first_statuses_s = time.perf_counter() - began
    await wait_quiet(600)
    quiet_s = time.perf_counter() - began
    start_cpu_s = time.process_time() - cpu_start
    rss_started = proc_status()
    mark = len(acknowledged)
    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(cycles * interval_s + interval_s / 2)
    window_cpu_s, window_s = time.process_time() - cpu0, time.perf_counter() - t0
    groups = bursts(acknowledged[mark:], interval_s / 2)
    complete = [group for group in groups if len(group) == connectors]
    rss_after = proc_status()
    reads = sum(d.reads for d in fake_devices.DEVICES)
    stop.set()
    await task
    return {
        "connectors": connectors,
        "interval_s": interval_s,
        "runtimes": len(agent.runtimes),
        "started_s": started_s,
        "first_statuses_s": first_statuses_s,
        "quiet_s": quiet_s,
        "start_cpu_s": start_cpu_s,
        "cycles_seen": len(groups),
        "burst_sizes": [len(group) for group in groups],
        "cycle_s": [group[-1] - group[0] for group in complete],
        "cpu_per_cycle_s": window_cpu_s / (window_s / interval_s),
        "window_s": window_s,
        "reads": reads,
        "status_publishes": counter.total,
        "rss_mb": {
            "before_agent": rss_before["VmRSS"],
            "started": rss_started["VmRSS"],
            "after_cycles": rss_after["VmRSS"],
            "peak": rss_after["VmHWM"],
        },
    }


async def main_async(port: int, quick: bool) -> Outcome:
    """Measure and judge (the memory target only with 1,000 connectors)."""
    outcome = Outcome("scale_1000")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        connectors = QUICK_CONNECTORS if quick else CONNECTORS
        found = await measure(port, Path(tmp), connectors, 2 if quick else 5, 2.0 if quick else INTERVAL_S)
    n = found["connectors"]
    if n != CONNECTORS:
        outcome.notes.append(f"--quick: {n} connectors instead of {CONNECTORS}; the memory target is not judged")
    rss = found["rss_mb"]
    cycle, cpu = median(found["cycle_s"]) if found["cycle_s"] else None, found["cpu_per_cycle_s"]
    judged = n == CONNECTORS
    outcome.add(f"start: {n:,} connectors, every status published", found["first_statuses_s"], "s",
                detail=f"started() after {found['started_s']:.2f} s")  # fmt: skip
    outcome.add(f"start: until the agent is idle ({n:,} connectors)", found["quiet_s"], "s",
                detail=f"{found['start_cpu_s']:.1f} s CPU")  # fmt: skip
    outcome.add(
        f"status cycle (poll + publish {n:,})", None if cycle is None else cycle * 1000, "ms",
        detail=f"median of {len(found['cycle_s'])} complete cycles; first to last status sent",
    )  # fmt: skip
    outcome.add("CPU per status cycle", cpu * 1000, "ms",
                detail=f"{cpu / 60:.2%} of one core at the default 60 s polls")  # fmt: skip
    outcome.add("RSS before the agent (imports only)", rss["before_agent"], "MB")
    outcome.add(f"RSS after the cycles ({n:,} connectors)", rss["after_cycles"], "MB",
                detail=f"{(rss['after_cycles'] - rss['before_agent']) / n * 1024:.0f} kB per connector")  # fmt: skip
    outcome.add(
        f"peak RSS, VmHWM ({n:,} connectors)", rss["peak"], "MB", target=f"<= {TARGET_MB} MB" if judged else None,
        ok=rss["peak"] <= TARGET_MB if judged else None,
    )  # fmt: skip
    outcome.data = found
    return outcome


def main() -> None:
    """Start a broker unless --port names one, measure, emit."""
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("mqtt").setLevel(logging.ERROR)
    broker_bench_main(__doc__, main_async)


if __name__ == "__main__":
    main()
