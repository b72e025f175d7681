"""`energy-agent demo` end to end: embedded broker, simulator, agent, and HEMS commands from the CLI path."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta

from rich.console import Console

from energy_agent.config import MqttSettings
from energy_agent.mqtt.request import send_command
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
    host, port = broker.split(":")
    mqtt = MqttSettings(host=host, port=int(port), protocol="3.1.1")
    mode = await send_command(
        mqtt,
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
    answer = await send_command(
        mqtt,
        "hems/charge-amps/1/schedule/set",
        json.dumps(command).encode(),
        answer_topic="hems/charge-amps/1/schedule/result",
        command_id="c1",
        timeout_s=5,
    )
    assert answer["accepted"] is True
    summary = await demo
    assert summary["schedule_source"] == "hems"
    assert summary["schedule_writes"] >= 1
    assert [c["command_id"] for c in summary["commands"]][:2] == ["c1", "m1"]
    assert "standalone plan" in output.getvalue()
