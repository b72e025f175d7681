"""Shared helpers of the benchmarks: a lean private Mosquitto, statistics, /proc readings, result records.

Every benchmark module runs as its own process (`python -m bench.<module> --port P --out FILE [--quick]`) so that
memory and CPU figures are not mixed up; `bench/run_all.py` starts the broker and runs them one after another.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt

logging.getLogger("mqtt").setLevel(logging.ERROR)  # aiomqtt warns at every 11th queued publish of the load generators

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- results ---------------------------------------------------------------------------------------


@dataclass
class Metric:
    """One figure in the table; `ok` is None when the figure has no target."""

    name: str
    value: float | int | None
    unit: str
    target: str | None = None
    ok: bool | None = None
    detail: str = ""


@dataclass
class Outcome:
    """What one benchmark module reports."""

    benchmark: str
    metrics: list[Metric] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: Any, **kwargs: Any) -> Metric:
        """Append a Metric and return it."""
        metric = Metric(*args, **kwargs)
        self.metrics.append(metric)
        return metric

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to the --out file."""
        return {"benchmark": self.benchmark, "metrics": [asdict(m) for m in self.metrics], **self.data,
                "notes": self.notes}  # fmt: skip


def parse_args(description: str, *, broker: bool = True) -> argparse.Namespace:
    """The arguments every benchmark module takes."""
    parser = argparse.ArgumentParser(description=description)
    if broker:
        parser.add_argument("--port", type=int, default=None, help="a running broker on 127.0.0.1 (default: start one)")
    parser.add_argument("--quick", action="store_true", help="fewer samples, for a smoke run")
    parser.add_argument("--out", type=Path, default=None, help="write the result JSON here (default: print it)")
    return parser.parse_args()


def with_broker(run: Callable[[int], Outcome], port: int | None) -> Outcome:
    """`run(port)` on the given broker, or on a BenchBroker started for it (imported only then: it imports pytest)."""
    if port is not None:
        return run(port)
    from bench.broker import running_broker

    with tempfile.TemporaryDirectory(prefix="bench-broker-") as tmp, running_broker(Path(tmp)) as broker:
        return run(broker.port)


def broker_bench_main(doc: str, measure: Callable[[int, bool], Coroutine[Any, Any, Outcome]]) -> None:
    """The `main` of a benchmark on a broker: parse the arguments, start a broker unless --port names one,
    run `measure(port, quick)`, emit the outcome."""
    args = parse_args(doc.splitlines()[0])
    emit(with_broker(lambda port: asyncio.run(measure(port, args.quick)), args.port), args.out)


def emit(outcome: Outcome, out: Path | None) -> None:
    """Write the outcome (or print it) and a short human summary on stderr."""
    text = json.dumps(outcome.to_json(), indent=2)
    if out is None:
        print(text)
    else:
        out.write_text(text)
    for metric in outcome.metrics:
        verdict = "" if metric.ok is None else ("PASS" if metric.ok else "MISS")
        print(f"  {metric.name}: {fmt(metric.value)} {metric.unit} {metric.target or ''} {verdict}", file=sys.stderr)


def fmt(value: float | int | None) -> str:
    """A number with sensible precision for the table."""
    if value is None:
        return "-"
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 100):
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


# -- statistics ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    """The 50th percentile."""
    return percentile(values, 50)


# -- processes -------------------------------------------------------------------------------------


def proc_status(pid: int | str = "self") -> dict[str, float]:
    """VmRSS, VmHWM (peak RSS) and VmSize of a process, in MB (/proc/PID/status)."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "VmSize"):
            found[key] = int(rest.split()[0]) / 1024
    return found


def proc_cpu_s(pid: int | str = "self") -> float:
    """User + system CPU seconds a process has used (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def self_peak_rss_mb() -> float:
    """This process's peak RSS (getrusage; kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mosquitto = ""
    try:
        from energy_agent.testing.mosquitto import mosquitto_binary

        version = subprocess.run([mosquitto_binary(), "-h"], capture_output=True, text=True, timeout=5)
        mosquitto = (version.stdout or version.stderr).splitlines()[0]
    except Exception:
        mosquitto = "unknown"
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "mosquitto": mosquitto,
        "loadavg_at_start": os.getloadavg(),
    }


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 8.0) -> float | None:
    """SIGTERM, wait; SIGKILL after `timeout_s`. Returns the seconds it took to exit after SIGTERM (None: killed)."""
    if process.poll() is not None:
        return 0.0
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None
    return time.monotonic() - began


# -- agents ----------------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    """A fresh topic prefix / client id, so that retained messages of earlier runs never match."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def agent_document(workdir: Path, port: int, prefix: str, *, mode: str = "hems", **sections: Any) -> dict[str, Any]:
    """An agent config document on the benchmark broker; `sections` adds plugin sections (bench:, chargeamps:)."""
    return {
        "operation_mode": mode,
        "timezone": "Europe/Amsterdam",
        "state_dir": str(workdir / "state"),
        "mqtt": {
            "host": "127.0.0.1",
            "port": port,
            "client_id": prefix,
            "hems_prefix": prefix,
            "discovery_prefix": f"{prefix}-ha",
        },
        "health": {"port": 0},  # any free port: the machine may run an agent on the default one
        "web": {"port": 0},
        **sections,
    }


def spawn_agent(
    document: dict[str, Any],
    workdir: Path,
    *,
    log_level: str = "info",
    profile: Path | None = None,
) -> tuple[subprocess.Popen[bytes], Path]:
    """Start `python -m bench.agent_proc` (the agent plus the bench fake-device plugin); returns it and its stats
    file (written when it exits). Its log goes to workdir/agent.log."""
    import yaml

    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "energy-agent.yaml"
    config.write_text(yaml.safe_dump(document))
    stats = workdir / "agent-stats.json"
    log = (workdir / "agent.log").open("wb")
    process = subprocess.Popen(
        [PYTHON, "-m", "bench.agent_proc", "--config", str(config), "--stats", str(stats), "--log-level", log_level]
        + (["--profile", str(profile)] if profile else []),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    return process, stats


def mqtt_client(port: int, identifier: str | None = None, *, nodelay: bool = True) -> aiomqtt.Client:
    """A MQTT 5 client of the benchmark broker, with Nagle's algorithm off unless `nodelay` is False."""
    client = aiomqtt.Client(
        "127.0.0.1", port, identifier=identifier or unique("bench"), protocol=aiomqtt.ProtocolVersion.V5, timeout=10
    )
    if nodelay:
        enable_nodelay(client)
    return client


def enable_nodelay(client: aiomqtt.Client) -> None:
    """Set TCP_NODELAY on the client's socket when it opens (paho-mqtt leaves Nagle's algorithm on)."""
    paho = client._client
    inner = paho.on_socket_open

    def opened(paho_client: Any, userdata: Any, sock: Any) -> None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if inner is not None:
            inner(paho_client, userdata, sock)

    paho.on_socket_open = opened


def schedule_command(command_id: str, index: int, *, now: datetime | None = None) -> bytes:
    """A valid, distinct schedule-set command: the current changes with `index`, so every command is a device write."""
    now = now or datetime.now(UTC)
    start = (now + timedelta(hours=1)).replace(microsecond=0)
    payload = {
        "source": "hems",
        "command_id": command_id,
        "periods": [{"start": _iso(start), "end": _iso(start + timedelta(hours=1 + index % 3))}],
        "max_current": 6 + index % 10,
        "expires_at": _iso(start + timedelta(hours=12)),
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Listener:
    """Pumps one client's messages: resolves waiters by command id (results) or by key (raw echoes), counts results
    per command id, records the agent's availability and which status topics were seen. Receive times are taken
    in the pump, before any waiter wakes."""

    def __init__(self, client: aiomqtt.Client, prefix: str) -> None:
        import asyncio

        self.client = client
        self.prefix = prefix
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.result_counts: dict[str, int] = {}
        self.results = 0
        self.online = asyncio.Event()
        self.statuses: set[str] = set()
        self.status_changed = asyncio.Event()

    async def pump(self) -> None:
        """Run until cancelled."""
        async for message in self.client.messages:
            received = time.perf_counter()
            topic = message.topic.value
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            if topic.endswith("/schedule/result"):
                command_id = json.loads(payload).get("command_id")
                self.results += 1
                self.result_counts[command_id] = self.result_counts.get(command_id, 0) + 1
                self._resolve(command_id, received)
            elif topic.endswith("/status"):
                self.statuses.add(topic)
                self.status_changed.set()
            elif topic == f"{self.prefix}/agent/availability":
                if payload == b"online":
                    self.online.set()
                else:
                    self.online.clear()
            else:
                self._resolve(payload.decode(), received)

    def expect(self, key: str) -> Any:
        """A future resolved with the receive time (perf_counter) of the message for `key`."""
        import asyncio

        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters[key] = future
        return future

    def _resolve(self, key: str | None, received: float) -> None:
        if key is None:
            return
        future = self.waiters.pop(key, None)
        if future is not None and not future.done():
            future.set_result(received)


async def wait_for_statuses(listener: Listener, count: int, timeout_s: float) -> None:
    """Wait until `count` distinct status topics were seen (every device published at least once)."""
    import asyncio

    async with asyncio.timeout(timeout_s):
        while len(listener.statuses) < count:
            listener.status_changed.clear()
            await listener.status_changed.wait()
