"""A private Mosquitto broker for a test, on a free port, that the test can stop and start again.

The `mosquitto` binary must be installed (it is not a Python package); `mosquitto_binary` says how when it is not.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from energy_agent.testing.broker import free_port

INSTALL_HINT = (
    "the `mosquitto` binary is required by the tests and was not found on PATH (or in /usr/sbin). "
    "Install it: `sudo apt-get install mosquitto` (Debian/Ubuntu), `brew install mosquitto` (macOS); "
    "scripts/test installs it by itself when run as root on a machine with apt-get."
)


class MosquittoNotFoundError(RuntimeError):
    """The `mosquitto` binary is not installed; the message says how to install it."""


def mosquitto_binary() -> str:
    """Path of the mosquitto binary; MosquittoNotFoundError (saying how to install it) when there is none."""
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise MosquittoNotFoundError(INSTALL_HINT)
    return found


class Mosquitto:
    """A Mosquitto process with its own config; `stop`/`start` keep the same port."""

    def __init__(self, workdir: Path, *, extra_config: str = "", port: int | None = None) -> None:
        self.binary = mosquitto_binary()
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.workdir = workdir
        self.config = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self.extra_config = extra_config
        self.process: subprocess.Popen[bytes] | None = None

    def write_config(self) -> None:
        """Write a config: one listener on loopback, anonymous unless `extra_config` says otherwise."""
        base = f"listener {self.port} 127.0.0.1\npersistence false\nlog_dest file {self.log}\nlog_type all\n"
        if "allow_anonymous" not in self.extra_config:
            base += "allow_anonymous true\n"
        self.config.write_text(base + self.extra_config)

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the broker and wait until it accepts connections."""
        self.write_config()
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)], stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"mosquitto exited at start: {stderr}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout_s} s")

    def stop(self) -> None:
        """Stop the broker (retained messages are lost: persistence is off)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        self.process = None
