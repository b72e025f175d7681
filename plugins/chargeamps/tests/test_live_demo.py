"""`energy-agent demo` end to end: embedded broker, simulator, agent, and HEMS commands from the CLI path."""

from __future__ import annotations

import asyncio
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from demo_terminal import Terminal, run_printed_line, user_environment
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


async def test_every_line_the_demo_prints_to_try_works_as_printed(tmp_path: Path) -> None:
    env = user_environment()
    demo = Terminal(["energy-agent", "demo", "--duration", "120"], env)
    try:
        await demo.wait_for(r"\(connected\)")
        printed = demo.text
        lines = [line.strip() for line in printed.splitlines() if line.strip().startswith("energy-agent hems ")]
        assert [line.split()[2] for line in lines] == ["mode", "set", "clear", "mode"], printed
        for line in lines:
            code, out, err = await run_printed_line(line, env)
            assert code == 0, f"{line}\n{out}{err}"
            answer = json.loads(out)
            assert answer["accepted"] is True, (line, answer)
            # the demo's own screen shows the answer in its command log
            await demo.wait_for(re.escape(answer["command_id"]) + r"\s*│\s*yes")
        await demo.wait_for(r"mode standalone")
    finally:
        code = demo.stop()
    assert code == 0, demo.text[-3000:]


async def test_the_ocpp_demo_puts_the_printed_schedule_on_the_charger(tmp_path: Path) -> None:
    """`energy-agent demo --ocpp`: the agent is the simulated charger's OCPP central system; a printed command,
    run as printed, is answered, and the charger then holds a charging profile with the schedule's limits."""
    env = user_environment()
    demo = Terminal(["energy-agent", "demo", "--ocpp", "--duration", "120"], env)
    try:
        await demo.wait_for(r"\(connected\)")
        # the standalone plan reached the charger as its profile (the plan profile is 1002 on connector 1)
        await demo.wait_for(r"on the charger\s+\d+ A now.*\(TxDefaultProfile 1002\)")
        printed = demo.text
        lines = [line.strip() for line in printed.splitlines() if line.strip().startswith("energy-agent hems ")]
        mode_hems, set_line = lines[:2]
        for line in (mode_hems, set_line):
            code, out, err = await run_printed_line(line, env)
            assert code == 0, f"{line}\n{out}{err}"
            answer = json.loads(out)
            assert answer["accepted"] is True, answer
            await demo.wait_for(re.escape(answer["command_id"]) + r"\s*│\s*yes")
        period = re.search(r"--period (\S+)/(\S+) --max-current 10", set_line)
        assert period is not None, set_line
        start, end = (datetime.fromisoformat(text) for text in period.groups())
        await demo.wait_for(rf"on the charger\s+0 A now, 10 A from {start:%H:%M}, 0 A from {end:%H:%M}")
    finally:
        code = demo.stop()
    assert code == 0, demo.text[-3000:]


async def test_an_unknown_topic_id_is_said_at_once_on_the_embedded_broker(tmp_path: Path) -> None:
    """The demo's broker matches retained messages of `hems/+/9/capabilities` too loosely (it returns connector
    1's): the CLI must still say that no device 9 exists, not send to charge-amps/9 and wait for nobody."""
    env = user_environment()
    demo = Terminal(["energy-agent", "demo", "--duration", "60"], env)
    try:
        broker = (await demo.wait_for(r"--broker (127\.0\.0\.1:\d+)")).group(1)
        await demo.wait_for(r"\(connected\)")
        line = f"energy-agent hems set 9 --period 2026-12-01T10:00:00+00:00/2026-12-01T11:00:00+00:00 --broker {broker}"
        code, _, err = await run_printed_line(line, env)
        assert code == 1
        assert "no device '9' announced" in err, err
    finally:
        demo.stop()
