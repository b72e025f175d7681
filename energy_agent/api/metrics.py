"""Measurements the health endpoint serves: device API calls recorded by plugins, and the Prometheus text format.

A plugin reaches the agent's `Metrics` through `DeviceContext.metrics` and wraps each call to its device or
cloud in `measure` (or reports it with `observe_device_call`). Latency is wall-clock time (`time.perf_counter`),
not the injected clock: it measures the network, retries included.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

LATENCY_BUCKETS_S: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Upper bounds of the device API latency histogram (Prometheus adds `+Inf`)."""

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The content type of the Prometheus text exposition format."""


@dataclass
class CallStats:
    """Calls of one operation on one device type: how many, how many failed, and how long they took."""

    calls: int = 0
    errors: int = 0
    duration_sum_s: float = 0.0
    bucket_counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_S) + 1))
    """Calls per latency bucket, not cumulative; the last one is above every bound."""

    def add(self, seconds: float, ok: bool) -> None:
        """Count one call."""
        self.calls += 1
        if not ok:
            self.errors += 1
        self.duration_sum_s += seconds
        index = next((i for i, bound in enumerate(LATENCY_BUCKETS_S) if seconds <= bound), len(LATENCY_BUCKETS_S))
        self.bucket_counts[index] += 1


class Metrics:
    """The agent's registry of device API measurements; one per agent, shared by every plugin."""

    def __init__(self) -> None:
        self._calls: dict[tuple[str, str], CallStats] = {}

    def observe_device_call(self, device_type: str, operation: str, seconds: float, ok: bool) -> None:
        """Record one call of `operation` (e.g. `read_status`) to a device of `device_type` that took `seconds`."""
        stats = self._calls.setdefault((device_type, operation), CallStats())
        stats.add(max(0.0, seconds), ok)

    @contextmanager
    def measure(self, device_type: str, operation: str) -> Iterator[None]:
        """Time the block as one call; an exception counts as a failed call (a cancellation is not counted)."""
        started = time.perf_counter()
        try:
            yield
        except Exception:
            self.observe_device_call(device_type, operation, time.perf_counter() - started, ok=False)
            raise
        self.observe_device_call(device_type, operation, time.perf_counter() - started, ok=True)

    def device_calls(self) -> dict[tuple[str, str], CallStats]:
        """The statistics per (device_type, operation), as recorded so far."""
        return dict(self._calls)

    def expose(self, out: Exposition) -> None:
        """Write the device API families into `out`."""
        calls = sorted(self._calls.items())
        out.family(
            "energy_agent_device_api_calls_total",
            "counter",
            "Calls to device APIs (a call includes its retries).",
            [({"device_type": t, "operation": o}, s.calls) for (t, o), s in calls],
        )
        out.family(
            "energy_agent_device_api_errors_total",
            "counter",
            "Device API calls that failed after their retries.",
            [({"device_type": t, "operation": o}, s.errors) for (t, o), s in calls],
        )
        samples: list[tuple[str, Mapping[str, str], float]] = []
        for (device_type, operation), stats in calls:
            labels = {"device_type": device_type, "operation": operation}
            cumulative = 0
            for bound, count in zip((*LATENCY_BUCKETS_S, math.inf), stats.bucket_counts, strict=True):
                cumulative += count
                samples.append(("_bucket", {**labels, "le": _format_value(bound)}, cumulative))
            samples.append(("_sum", labels, stats.duration_sum_s))
            samples.append(("_count", labels, stats.calls))
        out.histogram("energy_agent_device_api_duration_seconds", "Wall-clock latency of device API calls.", samples)


class Exposition:
    """Builds a document in the Prometheus text exposition format (version 0.0.4)."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(
        self, name: str, kind: str, help_text: str, samples: Iterable[tuple[Mapping[str, str], float | int | bool]]
    ) -> None:
        """A counter or gauge family: HELP, TYPE, then one line per labelled sample."""
        self._header(name, kind, help_text)
        for labels, value in samples:
            self._lines.append(f"{name}{_labels(labels)} {_format_value(value)}")

    def metric(self, name: str, kind: str, help_text: str, value: float | int | bool) -> None:
        """A family with a single sample without labels."""
        self.family(name, kind, help_text, [({}, value)])

    def histogram(self, name: str, help_text: str, samples: Iterable[tuple[str, Mapping[str, str], float]]) -> None:
        """A histogram family; each sample is (suffix `_bucket`/`_sum`/`_count`, labels, value)."""
        self._header(name, "histogram", help_text)
        for suffix, labels, value in samples:
            self._lines.append(f"{name}{suffix}{_labels(labels)} {_format_value(value)}")

    def _header(self, name: str, kind: str, help_text: str) -> None:
        help_line = help_text.replace("\\", "\\\\").replace("\n", "\\n")
        self._lines.append(f"# HELP {name} {help_line}")
        self._lines.append(f"# TYPE {name} {kind}")

    def text(self) -> str:
        """The document, ending with a newline."""
        return "\n".join(self._lines) + "\n"


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_value(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))
