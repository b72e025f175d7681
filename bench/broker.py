"""The benchmarks' Mosquitto: energy_agent.testing's runner with logging cut down (kept apart from _common so
that a benchmark measuring its own memory does not import the broker runner when it needs none)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from energy_agent.testing.mosquitto import Mosquitto


class BenchBroker(Mosquitto):
    """The test Mosquitto with logging cut down to errors (`log_type all` would log every message).

    `nodelay` sets mosquitto's `set_tcp_nodelay` (off by default in mosquitto 2.0)."""

    def __init__(self, workdir: Path, *, nodelay: bool = False) -> None:
        super().__init__(workdir, extra_config="set_tcp_nodelay true\n" if nodelay else "")

    def write_config(self) -> None:
        """One loopback listener, anonymous, no persistence, errors and warnings only."""
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\npersistence false\nallow_anonymous true\n"
            f"log_dest file {self.log}\nlog_type error\nlog_type warning\n{self.extra_config}"
        )


@contextmanager
def running_broker(workdir: Path, *, nodelay: bool = False) -> Iterator[BenchBroker]:
    """A BenchBroker in `workdir` (made if missing), started for the block and stopped after it."""
    workdir.mkdir(parents=True, exist_ok=True)
    broker = BenchBroker(workdir, nodelay=nodelay)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
