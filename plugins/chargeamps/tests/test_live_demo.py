"""`energy-agent demo` end to end: embedded broker, simulator, agent, and HEMS commands from the CLI path."""

from __future__ import annotations

import asyncio
import fcntl
import io
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from rich.console import Console

from energy_agent.testing import send_hems_command
from energy_agent_chargeamps.live_demo import run_demo


async def test_demo_runs_and_answers_hems_commands_over_the_embedded_broker() -> None:
    output = io.StringIO()
    console = Console(file=output, width=160, height=200, force_terminal=True, color_system=None)
    demo = asyncio.create_task(run_demo(duration_s=8, console=console))
    async with asyncio.timeout(20):
        while "(connected)" not in output.getvalue():
            await asyncio.sleep(0.05)
    text = output.getvalue()
    broker = text.split("--broker ", 1)[1].split()[0]
    page = re.search(r"The owner's web page: (http://127\.0\.0\.1:\d+/)", text)
    assert page is not None, text
    async with aiohttp.ClientSession() as session:
        html = await fetch(session, page.group(1))
        plan = json.loads(await fetch(session, page.group(1) + "api/plan"))
    assert "<svg" in html and 'class="bar selected"' in html  # the demo's plan, drawn in the page itself
    [chart] = plan["charts"]
    assert chart["device"] == "charge-amps/1" and chart["source"] == "plan" and chart["slots"]
    host, port = broker.split(":")
    mode = await send_hems_command(
        host,
        int(port),
        "hems/agent/operation_mode/set",
        json.dumps({"operation_mode": "hems", "command_id": "m1"}).encode(),
        answer_topic="hems/agent/operation_mode/result",
        command_id="m1",
        timeout_s=5,
    )
    assert mode["accepted"] is True
    assert mode["operation_mode"] == "hems"
    start = datetime.now(UTC) + timedelta(hours=1)
    command = {
        "source": "hems",
        "command_id": "c1",
        "periods": [{"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}],
        "max_current": 10,
    }
    answer = await send_hems_command(
        host,
        int(port),
        "hems/charge-amps/1/schedule/set",
        json.dumps(command).encode(),
        answer_topic="hems/charge-amps/1/schedule/result",
        command_id="c1",
        timeout_s=5,
    )
    assert answer["accepted"] is True
    async with aiohttp.ClientSession() as session:  # the page shows the charger live: the command and its effect
        status = json.loads(await fetch(session, page.group(1) + "api/status"))
    assert [entry["answer"]["command_id"] for entry in status["commands"]][:2] == ["c1", "m1"]
    assert status["devices"][0]["status"]["schedule_source"] == "hems"
    summary = await demo
    assert summary["schedule_source"] == "hems"
    assert summary["schedule_writes"] >= 1
    assert [c["command_id"] for c in summary["commands"]][:2] == ["c1", "m1"]
    assert "standalone plan" in output.getvalue()


async def fetch(session: aiohttp.ClientSession, url: str) -> str:
    """The body of a page the demo serves."""
    async with session.get(url) as response:
        assert response.status == 200, url
        return await response.text()


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


async def test_every_line_the_demo_prints_to_try_works_as_printed(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGY_AGENT_")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", TERM="xterm-256color", COLUMNS="200", LINES="60")
    demo = Terminal([str(bin_dir / "energy-agent"), "demo", "--duration", "120"], env)
    try:
        await demo.wait_for(r"\(connected\)")
        printed = demo.text
        lines = [line.strip() for line in printed.splitlines() if line.strip().startswith("energy-agent hems ")]
        assert [line.split()[2] for line in lines] == ["mode", "set", "clear", "mode"], printed
        for line in lines:
            # exactly as a user pastes it into a second terminal: the same shell, the same PATH
            shell = await asyncio.create_subprocess_exec(
                "bash", "-c", line, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            out, err = await asyncio.wait_for(shell.communicate(), timeout=30)
            assert shell.returncode == 0, f"{line}\n{out.decode()}{err.decode()}"
            answer = json.loads(out)
            assert answer["accepted"] is True, (line, answer)
            # the demo's own screen shows the answer in its command log
            await demo.wait_for(re.escape(answer["command_id"]) + r"\s*│\s*yes")
        await demo.wait_for(r"mode standalone")
    finally:
        code = demo.stop()
    assert code == 0, demo.text[-3000:]


async def test_an_unknown_topic_id_is_said_at_once_on_the_embedded_broker(tmp_path: Path) -> None:
    """The demo's broker matches retained messages of `hems/+/9/capabilities` too loosely (it returns connector
    1's): the CLI must still say that no device 9 exists, not send to charge-amps/9 and wait for nobody."""
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGY_AGENT_")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", TERM="xterm-256color", COLUMNS="200", LINES="60")
    demo = Terminal([str(bin_dir / "energy-agent"), "demo", "--duration", "60"], env)
    try:
        broker = (await demo.wait_for(r"--broker (127\.0\.0\.1:\d+)")).group(1)
        await demo.wait_for(r"\(connected\)")
        shell = await asyncio.create_subprocess_exec(
            "energy-agent", "hems", "set", "9", "--period", "2026-12-01T10:00:00+00:00/2026-12-01T11:00:00+00:00",
            "--broker", broker, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(shell.communicate(), timeout=8)
        assert shell.returncode == 1
        assert "no device '9' announced" in err.decode(), err.decode()
    finally:
        demo.stop()
