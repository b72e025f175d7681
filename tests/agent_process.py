"""A real `energy-agent run` process for the tests that need one: started on a config file, its stderr collected
line by line, stopped with SIGTERM (killed after 6 s) when the block ends."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class AgentProcess:
    """A running `energy-agent run` and the lines it wrote to stderr so far."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        """The process has not exited."""
        return self.process.returncode is None

    def log(self) -> str:
        """Everything logged so far."""
        return "\n".join(self.lines)

    def rss_kib(self) -> int:
        """Resident memory of the process now, in KiB."""
        status = Path(f"/proc/{self.process.pid}/status")
        if status.exists():
            line = next(x for x in status.read_text().splitlines() if x.startswith("VmRSS:"))
            return int(line.split()[1])
        out = subprocess.run(["ps", "-o", "rss=", "-p", str(self.process.pid)], capture_output=True, check=True)
        return int(out.stdout.decode().strip())


@asynccontextmanager
async def running_agent_process(
    config: Path, *args: str, preexec_fn: Callable[[], None] | None = None
) -> AsyncIterator[AgentProcess]:
    """`energy-agent run --config CONFIG ARGS...` without the caller's ENERGY_AGENT_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGY_AGENT_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "energy_agent", "run", "--config", str(config), *args,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env, preexec_fn=preexec_fn,
    )  # fmt: skip
    running = AgentProcess(process)

    async def read_stderr() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            running.lines.append(raw.decode(errors="replace").rstrip("\n"))

    reader = asyncio.create_task(read_stderr())
    try:
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(6):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        await asyncio.gather(reader, return_exceptions=True)
