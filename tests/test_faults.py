"""Faults and abuse, end to end: a real Mosquitto, the Charge Amps simulator over real HTTP, and a running agent.

Covered elsewhere and not repeated here: a restart with a schedule in force
(tests/test_hems_e2e.py::test_restart_restores_the_hems_schedule_without_rewriting), SIGTERM and SIGKILL
(tests/test_process.py). A full disk and the 10,000-payload flood (measured by the RSS of the agent alone) run
an agent process of their own: tests/test_faults_process.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import aiomqtt
import pytest

from energy_agent.api.errors import ConfigError
from energy_agent.app.compose import build_agent
from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.config import load_settings
from energy_agent.runtime.agent import Agent
from energy_agent.testing.broker import free_port
from energy_agent.testing.clock import ManualClock
from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder
from energy_agent_chargeamps.simulator import Fault, FaultMode, Simulator
from tests.health_client import get, parse_prometheus, serving, value
from tests.listening import listening, publish_once
from tests.world import AMS, BASE, CP, DELETE_ROUTE, EMAIL, PASSWORD, PUT_ROUTE, World, eventually, world

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
READ_ROUTE = "POST /api/users/chargepoints/owned"
LOGIN_ROUTE = "POST /api/auth/login"
SET_TOPIC = f"{BASE}/schedule/set"
RESULT_TOPIC = f"{BASE}/schedule/result"
SCHEDULE = {
    "source": "hems",
    "command_id": "fault-1",
    "periods": [{"start": (NOW + timedelta(hours=2)).isoformat(), "end": (NOW + timedelta(hours=3)).isoformat()}],
    "max_current": 10,
    "expires_at": (NOW + timedelta(hours=12)).isoformat(),
}


# -- harness -------------------------------------------------------------------------------------------
@dataclass
class Running:
    """An agent running in this event loop, and the task that runs it."""

    agent: Agent
    task: asyncio.Task[None]

    @property
    def alive(self) -> bool:
        """The agent's run task has not ended."""
        return not self.task.done()


def document(tmp_path: Path, port: int, *, sim: Simulator | None = None, **overrides: Any) -> dict[str, Any]:
    """A HEMS-mode config: fast reconnects, the health endpoint on any port, the simulator if given."""
    doc: dict[str, Any] = {
        "operation_mode": "hems",
        "timezone": "Europe/Amsterdam",
        "state_dir": str(tmp_path / "state"),
        "mqtt": {"host": "127.0.0.1", "port": port, "reconnect_min_s": 0.05, "reconnect_max_s": 0.2},
        "health": {"port": 0},
        "web": {"port": 0},
    }
    if sim is not None:
        doc["chargeamps"] = {"email": EMAIL, "password": PASSWORD, "base_url": sim.base_url, "charge_point_id": CP}
    for key, override in overrides.items():
        doc[key] = {**doc[key], **override} if isinstance(override, dict) and key in doc else override
    return doc


@asynccontextmanager
async def running_agent(doc: dict[str, Any], clock: ManualClock | None = None) -> AsyncIterator[Running]:
    """Run an agent on `doc` until the block ends (then stop it the way SIGTERM does)."""
    registry = collect(get_plugin_manager())
    settings = load_settings(registry, environ=False, data=doc)
    agent = build_agent(settings, registry, clock=clock or ManualClock(NOW))
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    started = asyncio.create_task(agent.started.wait())
    try:
        await asyncio.wait({task, started}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        assert agent.started.is_set(), "the agent did not start within 10 s"
        yield Running(agent, task)
    finally:
        started.cancel()
        stop.set()
        await task


@pytest.fixture
async def cloud() -> AsyncIterator[tuple[Simulator, ManualClock]]:
    """The simulator with a HALO and a car on connector 1, on a ManualClock the agent shares."""
    clock = ManualClock(NOW)
    sim = Simulator(clock)
    sim.add_account(email=EMAIL, password=PASSWORD, api_key="api-key-secret")
    sim.add_charge_point(email=EMAIL, product="HALO", charge_point_id=CP)
    sim.plug_in_car(CP, connector_id=1, max_current_a=16.0, phases=3)
    await sim.start()
    try:
        yield sim, clock
    finally:
        await sim.stop()


async def drive(w: World, condition: Callable[[], bool], *, step_s: float = 5.0, timeout_s: float = 15.0) -> None:
    """Advance the shared clock a step at a time, letting real HTTP finish in between, until `condition` holds."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await w.clock.advance(step_s)
            await asyncio.sleep(0.02)


def reconnect_waits(caplog: pytest.LogCaptureFixture) -> list[float]:
    """The waits the bus logged before each reconnect attempt, in seconds."""
    return [
        float(cast(float, r.args[1]))
        for r in caplog.records
        if r.name == "energy_agent.mqtt.bus" and r.msg == "reconnecting to %s in %.1f s" and isinstance(r.args, tuple)
    ]


# -- the broker ----------------------------------------------------------------------------------------
async def test_broker_absent_at_start_backs_off_with_growing_delays_then_connects(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="energy_agent.mqtt.bus")
    port = free_port()
    doc = document(tmp_path, port, mqtt={"reconnect_min_s": 0.1, "reconnect_max_s": 0.8})
    async with running_agent(doc) as run, serving(run.agent) as url:
        await asyncio.sleep(2.0)
        waits = reconnect_waits(caplog)
        print(f"\nbroker absent for 2.0 s: {len(waits)} reconnect waits: {[round(w, 3) for w in waits]}")
        assert 3 <= len(waits) <= 8, waits
        for attempt, wait_s in enumerate(waits):
            ceiling_s = min(0.1 * 2**attempt, 0.8)
            assert ceiling_s / 2 <= wait_s <= ceiling_s, (attempt, wait_s)  # jittered in [delay/2, delay]
        assert sum(waits[-2:]) > sum(waits[:2])  # the delays grew
        assert run.alive and not run.agent.bus.connected
        answer = await get(f"{url}/healthz")
        assert answer.status == 503
        assert answer.json()["reasons"][0].startswith(f"mqtt: not connected to the broker 127.0.0.1:{port} (")

        (tmp_path / "late").mkdir()
        late = Broker(tmp_path / "late", port=port)
        late.start()
        try:
            await run.agent.bus.wait_connected(5)
            async with listening(late, "hems/agent/availability") as rec:
                assert await rec.wait_for("hems/agent/availability") == b"online"
            assert (await get(f"{url}/healthz")).status == 200
        finally:
            late.stop()


async def test_broker_restart_resubscribes_and_republishes_retained_state(
    broker: Broker, cloud: tuple[Simulator, ManualClock], tmp_path: Path
) -> None:
    sim, clock = cloud
    async with running_agent(document(tmp_path, broker.port, sim=sim), clock) as run, serving(run.agent) as url:
        agent = run.agent
        await agent.bus.wait_connected(5)
        await eventually(lambda: agent.runtimes["charge-amps/1"].status is not None)
        broker.stop()
        await eventually(lambda: not agent.bus.connected)
        down = await get(f"{url}/healthz")
        assert down.status == 503 and down.json()["reasons"][0].startswith("mqtt: not connected")

        broker.start()  # same port; persistence is off, so every retained message is gone
        await agent.bus.wait_connected(10)
        assert agent.bus.reconnects == 1
        retained = [f"{BASE}/status", f"{BASE}/capabilities", "hems/agent/availability"]
        async with asyncio.timeout(5):
            while True:  # the agent republishes just after it reconnects
                async with listening(broker, *retained) as rec:
                    await asyncio.sleep(0.1)
                    found = {m.topic.value: m for m in rec.messages if m.retain}
                if set(found) == set(retained):
                    break
        assert found["hems/agent/availability"].payload == b"online"
        assert json.loads(found[f"{BASE}/status"].payload)["schedule_source"] == "none"

        async with listening(broker, RESULT_TOPIC) as rec:
            await publish_once(broker, SET_TOPIC, json.dumps(SCHEDULE))
            result = json.loads(await rec.wait_for(RESULT_TOPIC))
        assert result["accepted"] is True and result["command_id"] == "fault-1"
        assert len(sim.requests(PUT_ROUTE)) == 1
        samples = parse_prometheus((await get(f"{url}/metrics")).text)
        assert value(samples, "energy_agent_mqtt_reconnects_total") == 1
        assert value(samples, "energy_agent_mqtt_connected") == 1


# -- the cloud -----------------------------------------------------------------------------------------
@pytest.fixture
async def flaky(broker: Broker, recorder: Recorder, tmp_path: Path) -> AsyncIterator[World]:
    """A world whose agent polls every 5 s with a 0.25 s HTTP timeout."""
    async with world(broker, recorder, tmp_path, NOW) as w:
        await w.start_agent(chargeamps={"poll_interval_s": 5, "timeout_s": 0.25})
        yield w


CLOUD_FAULTS = [
    pytest.param(Fault.SERVER_ERROR, {"status": 503}, "answered 503: server error", id="5xx"),
    pytest.param(Fault.SLOW, {"delay_s": 1.0}, "no answer within 0.25 s", id="timeout"),
    pytest.param(Fault.RATE_LIMITED, {"retry_after_s": 2.0}, "answered 429: rate limited", id="429"),
    pytest.param(Fault.UNAUTHORIZED, {}, "answered 401", id="401"),
]


@pytest.mark.parametrize(("fault", "options", "words"), CLOUD_FAULTS)
async def test_cloud_faults_show_as_error_with_a_reason_and_recover(
    flaky: World, fault: Fault, options: dict[str, Any], words: str
) -> None:
    agent = flaky.agent
    assert agent is not None
    runtime = agent.runtimes["charge-amps/1"]
    sim = flaky.sim

    def reads() -> int:
        return len(sim.requests(READ_ROUTE))

    async with serving(agent) as url:
        # A burst: every 3rd call fails; the client's retries (or its one re-login after a 401) absorb it.
        rule = sim.inject(READ_ROUTE, fault, mode=FaultMode.EVERY_NTH, n=3, **options)
        published = len(flaky.recorder.payloads(f"{BASE}/status"))
        start = reads()
        await drive(flaky, lambda: reads() >= start + 9)
        assert rule.fired >= 2 and runtime.status_error is None
        assert all(s["state"] != "error" for s in flaky.recorder.json(f"{BASE}/status")[published:])

        # Failing for good: the status says `error` with the reason, health turns 503, the agent keeps working.
        sim.clear_faults()
        logins_before = sim.logins(EMAIL)
        reads_before = reads()
        sim.inject(READ_ROUTE, fault, mode=FaultMode.ALWAYS, **options)
        await drive(flaky, lambda: runtime.status_error is not None)
        assert words in (runtime.status_error or "")
        await eventually(lambda: flaky.status()["state"] == "error")
        status = flaky.status()
        assert words in status["last_error"] and status["online"] is False and status["ready_for_schedule"] is False
        health = await get(f"{url}/healthz")
        assert health.status == 503
        assert health.json()["reasons"] == [f"charge-amps/1: unreachable: {runtime.status_error}"]
        accepted = await flaky.command(SCHEDULE)  # writes use another route: commands still work
        assert accepted["accepted"] is True
        await drive(flaky, lambda: reads() >= reads_before + 8)  # more failing polls: no crash, no tight loop
        if fault is Fault.UNAUTHORIZED:
            # one renewal per failing call, never a login storm
            assert sim.logins(EMAIL) - logins_before <= (reads() - reads_before) // 2 + 1
        samples = parse_prometheus((await get(f"{url}/metrics")).text)
        reading = {"device_type": "charge-amps", "operation": "read_status"}
        assert value(samples, "energy_agent_device_api_errors_total", **reading) >= 2
        assert value(samples, "energy_agent_device_reachable", device="charge-amps/1") == 0

        # Cleared: the next poll succeeds and everything says so.
        sim.clear_faults()
        await drive(flaky, lambda: runtime.status_error is None)
        await eventually(lambda: flaky.status()["state"] != "error" and flaky.status()["last_error"] is None)
        assert (await get(f"{url}/healthz")).status == 200
        assert agent.bus.connected and flaky.status()["schedule_source"] == "hems"


def writes_and_logins(w: World) -> list[str]:
    """The routes of the requests so far, without the read-backs that confirm each write."""
    return [e.route for e in w.sim.request_log if not e.route.startswith("GET /api/smartChargingSchedules/")]


async def test_token_expiry_and_revocation_during_a_command_log_in_exactly_once(
    broker: Broker, recorder: Recorder, tmp_path: Path
) -> None:
    async with world(broker, recorder, tmp_path, NOW, userapp_token_lifetime_s=900) as w:
        await w.start_agent(chargeamps={"poll_interval_s": 3600})
        assert w.sim.logins(EMAIL) == 1
        await w.advance(1000, step_s=100)  # past the token's lifetime; no poll falls in between
        assert len(w.sim.requests(READ_ROUTE)) == 1

        result = await w.command(SCHEDULE)
        assert result["accepted"] is True
        assert w.sim.logins(EMAIL) == 2
        assert writes_and_logins(w)[-2:] == [LOGIN_ROUTE, PUT_ROUTE]

        # The cloud revokes the token while the client still trusts it: one 401, one login, then success.
        w.sim.inject(PUT_ROUTE, Fault.UNAUTHORIZED, mode=FaultMode.ONCE)
        result = await w.command({**SCHEDULE, "command_id": "fault-2", "max_current": 8})
        assert result["accepted"] is True
        assert w.sim.logins(EMAIL) == 3
        assert writes_and_logins(w)[-3:] == [PUT_ROUTE, LOGIN_ROUTE, PUT_ROUTE]


# -- abuse on the command topics (the 10,000-payload flood: tests/test_faults_process.py) ------------------------------
def mqtt_packet(kind: int, body: bytes) -> bytes:
    """One MQTT 3.1.1 control packet: fixed header byte, variable-length remaining length, body."""
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return bytes([kind]) + bytes(encoded) + body


def mqtt_string(data: bytes) -> bytes:
    """A length-prefixed MQTT string."""
    return len(data).to_bytes(2, "big") + data


async def raw_publish(broker: Broker, topic: bytes, payload: bytes) -> bool:
    """Publish by hand a topic a client library refuses to send; True if the broker kept the connection after it."""
    reader, writer = await asyncio.open_connection(broker.host, broker.port)
    try:
        connect = mqtt_string(b"MQTT") + bytes([4, 0x02, 0, 30]) + mqtt_string(b"raw-abuser")
        writer.write(mqtt_packet(0x10, connect))
        assert await reader.readexactly(4) == b"\x20\x02\x00\x00"  # CONNACK, accepted
        writer.write(mqtt_packet(0x30, mqtt_string(topic) + payload) + mqtt_packet(0xC0, b""))  # PUBLISH, PINGREQ
        await writer.drain()
        try:
            async with asyncio.timeout(2):
                return await reader.read(2) == b"\xd0\x00"  # PINGRESP: still connected
        except (ConnectionError, TimeoutError):
            return False
    finally:
        writer.close()
        await asyncio.gather(writer.wait_closed(), return_exceptions=True)


async def test_topic_id_injection_reaches_no_device(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    body = json.dumps(SCHEDULE).encode()
    async with world(broker, recorder, tmp_path, NOW) as w:
        await w.start_agent(chargeamps={"connector_ids": [1, 2]})
        agent = w.agent
        assert agent is not None and set(agent.runtimes) == {"charge-amps/1", "charge-amps/2"}

        # Wildcards and NUL are not allowed in a topic name: the broker drops the sender, nothing is delivered.
        for raw in (b"hems/charge-amps/+/schedule/set", b"hems/charge-amps/#", b"hems/charge-amps/2#/schedule/set",
                    b"hems/charge-amps/+/schedule/clear", b"hems/charge-amps/2\x00/schedule/set"):  # fmt: skip
            assert await raw_publish(broker, raw, body) is False, raw
        # Legal topic names that only look like a device: no subscription matches them.
        odd = [
            "hems/charge-amps/1/../2/schedule/set",
            "hems/charge-amps/2/schedule/set/../../1/schedule/set",
            "hems/charge-amps/1/schedule/set/extra",
            "hems/charge-amps//schedule/set",
            "/hems/charge-amps/2/schedule/set",
            "HEMS/charge-amps/2/schedule/set",
            "hems/charge-amps/ 2/schedule/set",
            "hems/charge-amps/２/schedule/set",
            "hems/charge-amps/1%2F2/schedule/set",
            "hems/charge-amps/%23/schedule/set",
            "hems/charge-amps/" + "2" * 60_000 + "/schedule/set",
        ]
        async with aiomqtt.Client(broker.host, broker.port, protocol=aiomqtt.ProtocolVersion.V5) as client:
            for topic in odd:
                await client.publish(topic, body, qos=1)
            await client.publish(SET_TOPIC, b"barrier", qos=1)  # refused; its answer shows the agent read on
        await w.recorder.wait_for(RESULT_TOPIC)
        await asyncio.sleep(0.2)
        results = [m for m in w.recorder.messages if m.topic.value.endswith("/schedule/result")]
        assert [m.topic.value for m in results] == [RESULT_TOPIC]
        assert w.sim.requests(PUT_ROUTE) == [] and w.sim.requests(DELETE_ROUTE) == []
        assert all(r.record.schedule is None for r in agent.runtimes.values())
        assert agent.bus.connected and agent.hems.commands_refused == 1

        # The real topic of connector 2 still works, and touches connector 2 only.
        await w.publish("hems/charge-amps/2/schedule/set", body)
        assert json.loads(await w.recorder.wait_for("hems/charge-amps/2/schedule/result"))["accepted"] is True
        puts = w.writes(PUT_ROUTE)
        assert [p["connectorId"] for p in puts] == [2]
        assert agent.runtimes["charge-amps/1"].record.schedule is None
        assert agent.runtimes["charge-amps/2"].record.schedule is not None


@pytest.mark.parametrize("topic_id", ["1/#", "+", "2/../1", "a b", "x" * 65, ""])
async def test_configured_topic_ids_that_could_inject_are_refused(tmp_path: Path, topic_id: str) -> None:
    registry = collect(get_plugin_manager())
    doc = document(tmp_path, free_port())
    doc["chargeamps"] = {
        "email": EMAIL, "password": PASSWORD, "base_url": "http://127.0.0.1:9", "charge_point_id": CP,
        "topic_ids": {f"{CP}/1": topic_id},
    }  # fmt: skip
    agent = build_agent(load_settings(registry, environ=False, data=doc), registry, clock=ManualClock(NOW))
    with pytest.raises(ConfigError, match="topic id"):
        await agent.build_devices(registry.device_types["charge-amps"])


# -- broker credentials and TLS ------------------------------------------------------------------------
WRONG_PASSWORD = "wrong-pw-5f3a9c1e"


async def test_wrong_mqtt_password_retries_slowly_and_is_never_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    passwd = shutil.which("mosquitto_passwd") or shutil.which("mosquitto_passwd", path="/usr/sbin:/usr/local/sbin")
    assert passwd, "the tests need mosquitto_passwd (package mosquitto)"
    workdir = tmp_path / "auth"
    workdir.mkdir()
    made = await asyncio.create_subprocess_exec(passwd, "-b", "-c", str(workdir / "passwd"), "agent", "right-pw-77")
    assert await made.wait() == 0
    broker = Broker(workdir, extra_config=f"user root\nallow_anonymous false\npassword_file {workdir / 'passwd'}\n")
    broker.start()
    try:
        async with aiomqtt.Client(broker.host, broker.port, username="agent", password="right-pw-77"):
            pass  # the broker does take the right password
        doc = document(tmp_path, broker.port, mqtt={"username": "agent", "password": WRONG_PASSWORD})
        doc["mqtt"].pop("reconnect_min_s")
        doc["mqtt"].pop("reconnect_max_s")  # the shipped defaults: 1 s doubling to 60 s
        async with running_agent(doc) as run, serving(run.agent) as url:
            await asyncio.sleep(2.5)
            refused = broker.log.read_text().count("disconnected, not authorised")
            waits = reconnect_waits(caplog)
            print(f"\nwrong password for 2.5 s: {refused} refused connects at the broker, waits {waits}")
            assert 2 <= refused <= 3
            assert 0.5 <= waits[0] <= 1.0 and (len(waits) < 2 or 1.0 <= waits[1] <= 2.0)
            assert run.alive and not run.agent.bus.connected
            assert "refused the credentials" in (run.agent.bus.last_error or "")
            answers = [await get(f"{url}/{path}") for path in ("healthz", "status", "metrics")]
    finally:
        broker.stop()
    logged = [f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert logged and not [line for line in logged if WRONG_PASSWORD in line]
    assert all(WRONG_PASSWORD not in a.text for a in answers)
    assert WRONG_PASSWORD not in broker.log.read_text()


@dataclass(frozen=True)
class Pki:
    """Files of a test CA, a server certificate it signed, and an unrelated CA."""

    ca: Path
    server_cert: Path
    server_key: Path
    other_ca: Path


def openssl(*args: str) -> None:
    """Run the openssl CLI quietly; a failure shows its output."""
    binary = shutil.which("openssl")
    assert binary, "the TLS test needs the openssl command (package openssl)"
    subprocess.run([binary, *args], check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed EC CA: (certificate, key)."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN=energy-agent test {name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Generated once per module: a CA, a server certificate for 127.0.0.1 it signed, and a second CA."""
    directory = tmp_path_factory.mktemp("pki")
    ca, ca_key = make_ca(directory, "ca")
    other_ca, _ = make_ca(directory, "other-ca")
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")  # fmt: skip
    extensions = directory / "server.ext"
    extensions.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(cert), "-days", "2", "-extfile", str(extensions))  # fmt: skip
    return Pki(ca=ca, server_cert=cert, server_key=key, other_ca=other_ca)


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki) -> Iterator[Broker]:
    """A Mosquitto whose only listener speaks TLS with the test server certificate."""
    workdir = tmp_path / "tls"
    workdir.mkdir()
    broker = Broker(workdir, extra_config=f"user root\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


async def test_tls_with_the_right_ca_connects(tmp_path: Path, tls_broker: Broker, pki: Pki) -> None:
    doc = document(tmp_path, tls_broker.port, mqtt={"tls": True, "ca_file": str(pki.ca)})
    async with running_agent(doc) as run:
        await run.agent.bus.wait_connected(5)
        assert run.agent.bus.last_error is None
    assert "New client connected" in tls_broker.log.read_text()


@pytest.mark.parametrize("ca", ["other", "system"])
async def test_tls_with_a_wrong_ca_fails_closed(tmp_path: Path, tls_broker: Broker, pki: Pki, ca: str) -> None:
    mqtt: dict[str, Any] = {"tls": True} | ({"ca_file": str(pki.other_ca)} if ca == "other" else {})
    async with running_agent(document(tmp_path, tls_broker.port, mqtt=mqtt)) as run:
        connected_ever = False
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            connected_ever |= run.agent.bus.connected
            await asyncio.sleep(0.01)
        assert not connected_ever
        assert "certificate verify failed" in (run.agent.bus.last_error or "").lower()
        assert run.alive
    assert "New client connected" not in tls_broker.log.read_text()


# -- the state directory -------------------------------------------------------------------------------
async def test_unwritable_state_dir_is_logged_and_commands_are_still_answered(
    broker: Broker, cloud: tuple[Simulator, ManualClock], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A plain file where the state directory should be: what a read-only or vanished mount looks like, as root too."""
    sim, clock = cloud
    blocker = tmp_path / "state-is-a-file"
    blocker.write_text("not a directory")
    doc = document(tmp_path, broker.port, sim=sim, state_dir=str(blocker))
    async with running_agent(doc, clock) as run, serving(run.agent) as url:
        await run.agent.bus.wait_connected(5)
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert any(f"cannot write state to {blocker / 'state.json'}" in e and "keeps running" in e for e in errors)
        async with listening(broker, RESULT_TOPIC) as rec:
            await publish_once(broker, SET_TOPIC, json.dumps(SCHEDULE))
            assert json.loads(await rec.wait_for(RESULT_TOPIC))["accepted"] is True
        assert len(sim.requests(PUT_ROUTE)) == 1
        assert run.alive and run.agent.runtimes["charge-amps/1"].record.schedule is not None
        status = (await get(f"{url}/status")).json()
        assert status["state_error"].startswith(f"cannot write state to {blocker / 'state.json'}")
        samples = parse_prometheus((await get(f"{url}/metrics")).text)
        assert value(samples, "energy_agent_state_write_ok") == 0
    assert blocker.read_text() == "not a directory"
