"""A program run in a pseudo-terminal, as a user's terminal runs it: for the tests of `energy-agent demo`."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


class Terminal:
    """A program running in a pseudo-terminal, as a user's terminal runs it; `text` is what it printed so far."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 200, 0, 0))
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self._master = master
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # the program ended and closed the terminal
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    @property
    def text(self) -> str:
        """Everything printed so far, without terminal escapes."""
        return ANSI.sub("", b"".join(self._chunks).decode("utf-8", "replace"))

    async def wait_for(self, pattern: str, timeout_s: float = 20.0) -> re.Match[str]:
        """The first match of `pattern` in the output, waiting for it to be printed."""
        async with asyncio.timeout(timeout_s):
            while (found := re.search(pattern, self.text)) is None:
                if self.process.poll() is not None:
                    raise AssertionError(f"the program ended ({self.process.returncode}):\n{self.text[-3000:]}")
                await asyncio.sleep(0.1)
        return found

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=15)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._reader.join(timeout=2)
            os.close(self._master)
        return code


def user_environment() -> dict[str, str]:
    """The environment of a user's shell with the installed `energy-agent` on its PATH, and no agent settings."""
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGY_AGENT_")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", TERM="xterm-256color", COLUMNS="200", LINES="60")
    return env


async def run_printed_line(line: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run a line the demo printed exactly as a user pastes it into a second terminal: exit code, stdout, stderr."""
    shell = await asyncio.create_subprocess_exec(
        "bash", "-c", line, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(shell.communicate(), timeout=30)
    return shell.returncode or 0, out.decode(), err.decode()
