"""A real `energy-agent run` process as the central system of a simulated charger, commanded with `mosquitto_pub`.

The charger keeps the profile and goes on applying it when the agent is killed (SIGKILL); when the agent is
started again the charger reconnects, gets the plan again and the agent publishes its status restored.
The clock is the wall clock here, so the schedule starts a few seconds ahead; what the charger holds is
evaluated at any moment from its profiles, and one live check waits for the first period to begin.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ocpp_harness import PASSWORD, charge_point

from energy_agent.api import SystemClock
from energy_agent.testing import Mosquitto, Recorder, eventually, free_port
from energy_agent_ocpp.simulator import Car, ChargerSimulator

TOPIC = "hems/ocpp/HALO-123456-1"


def mosquitto_pub() -> str:
    found = shutil.which("mosquitto_pub")
    if found is None:
        pytest.fail("mosquitto_pub is needed (Debian/Ubuntu: apt-get install mosquitto-clients)", pytrace=False)
    return found


class AgentProcess:
    """`energy-agent run` with a config file; started, killed and started again by the test."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None
        self.logs: list[str] = []

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "energy_agent", "run", "--config", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            self.logs.append(process.stderr.read().decode(errors="replace"))
            process.stderr.close()


@pytest.fixture
def agent(broker: Mosquitto, tmp_path: Path) -> Iterator[tuple[AgentProcess, int]]:
    port = free_port()
    config = tmp_path / "energy-agent.yaml"
    document = {
        "operation_mode": "hems",
        "state_dir": str(tmp_path / "state"),
        "mqtt": {"host": broker.host, "port": broker.port},
        "health": {"port": 0},
        "web": {"port": 0},
        "ocpp": {
            "listen": {"host": "127.0.0.1", "port": port},
            "charge_points": [charge_point()],
            "status_interval_s": 1,
        },
    }
    config.write_text(json.dumps(document))  # JSON is YAML
    process = AgentProcess(config)
    try:
        yield process, port
    finally:
        process.stop()


async def test_the_charger_keeps_the_plan_when_the_agent_is_killed_and_gets_it_again_after_a_restart(
    agent: tuple[AgentProcess, int], recorder: Recorder, broker: Mosquitto, tmp_path: Path
) -> None:
    process, port = agent
    charger = ChargerSimulator(f"ws://127.0.0.1:{port}", "HALO-123456", PASSWORD, clock=SystemClock(),
                               reconnect_delay_s=0.2, meter_interval_s=1)  # fmt: skip
    await charger.plug_in(1, Car(max_current_a=16))
    await charger.start()
    try:
        process.start()
        await charger.wait_connected(timeout_s=30)
        await eventually(lambda: len(charger.calls_of("TriggerMessage")) == 1, timeout_s=10)
        await recorder.wait_for(f"{TOPIC}/status", timeout_s=10)

        t0 = datetime.now(UTC).replace(microsecond=0)
        periods = [
            (t0 + timedelta(seconds=a), t0 + timedelta(seconds=b), c) for a, b, c in [(6, 30, None), (40, 50, 8)]
        ]
        expires = t0 + timedelta(seconds=120)
        command = {
            "source": "hems",
            "command_id": "sigkill-1",
            "periods": [
                {"start": a.isoformat(), "end": b.isoformat(), **({} if c is None else {"max_current": c})}
                for a, b, c in periods
            ],
            "max_current": 10,
            "expires_at": expires.isoformat(),
        }
        publisher = await asyncio.create_subprocess_exec(
            mosquitto_pub(), "-h", broker.host, "-p", str(broker.port), "-q", "1",
            "-t", f"{TOPIC}/schedule/set", "-m", json.dumps(command), stderr=subprocess.PIPE,
        )  # fmt: skip
        _, stderr = await publisher.communicate()
        assert publisher.returncode == 0, stderr.decode()
        result = json.loads(await recorder.wait_for(f"{TOPIC}/schedule/result", timeout_s=10))
        assert result["accepted"] is True and result["command_id"] == "sigkill-1", result

        def expected(when: datetime) -> float:
            if when >= expires:
                return 0.0
            return next((c or 10.0 for a, b, c in periods if a <= when < b), 0.0)

        def matches_to_the_second() -> None:
            """From now on (a profile written now starts now), the charger's limit is the command's."""
            now = datetime.now(UTC)
            for edge in [now] + [p for a, b, _ in periods for p in (a, b)] + [expires]:
                for second in range(-2, 3):
                    when = edge + timedelta(seconds=second)
                    if when >= now:
                        assert charger.limit_at(1, when) == expected(when), when

        matches_to_the_second()
        state_file = tmp_path / "state"
        await eventually(lambda: "sigkill-1" in "".join(p.read_text() for p in state_file.glob("*.json")), 10)

        assert process.process is not None
        process.stop(signal.SIGKILL)
        await eventually(lambda: not charger.connected.is_set(), timeout_s=10)
        matches_to_the_second()  # the charger keeps the profile without the agent
        while datetime.now(UTC) < periods[0][0] + timedelta(seconds=1):
            await asyncio.sleep(0.1)
        assert not charger.connected.is_set()
        assert charger.current_a(1) == 10  # and the car charges by it, the agent being dead

        sent = len(charger.calls_of("SetChargingProfile"))
        process.start()
        await charger.wait_connected(timeout_s=30)
        await eventually(lambda: len(charger.calls_of("SetChargingProfile")) >= sent + 2, timeout_s=10)
        assert charger.calls_of("SetChargingProfile")[-1]["valid_to"] == expires.strftime("%Y-%m-%dT%H:%M:%SZ")
        matches_to_the_second()

        def restored(payload: bytes) -> bool:
            status = json.loads(payload)
            return bool(
                status["online"] and status["schedule_source"] == "hems" and status["last_command_id"] == "sigkill-1"
                and status["state"] == "charging"
            )  # fmt: skip

        before = len(recorder.payloads(f"{TOPIC}/status"))
        await eventually(lambda: any(restored(p) for p in recorder.payloads(f"{TOPIC}/status")[before:]), timeout_s=15)
    finally:
        await charger.stop()
        process.stop()
    logs = "".join(process.logs)
    assert "HALO-123456 connected from 127.0.0.1" in logs
    assert PASSWORD not in logs
