"""Point a real Home Assistant core at energy-agent's MQTT discovery and controls; print PASS/FAIL per check.

Run by run.sh with the Home Assistant venv's Python (it needs aiohttp and paho-mqtt, both come with
Home Assistant). Starts, in a fresh work directory, on loopback only: Mosquitto, Home Assistant
(`hass -c DIR --skip-pip`), the Charge Amps simulator and the agent; stops every one of them at the end,
also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as mqtt

HEMS = "hems"
DISCOVERY = "homeassistant"
AGENT_NODE = "energy_agent"
TZ = "Europe/Amsterdam"

RESULTS: list[tuple[bool, str, str]] = []
INFOS: list[str] = []


def check(ok: bool, name: str, detail: str = "") -> bool:
    RESULTS.append((bool(ok), name, detail))
    print(f"  {'PASS' if ok else 'FAIL'}  {name}{'  -- ' + detail if detail else ''}", flush=True)
    return bool(ok)


def info(text: str) -> None:
    INFOS.append(text)
    print(f"  INFO  {text}", flush=True)


class SetupError(Exception):
    """Something the checks need could not be started."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    """Every process this run started, stopped in reverse order."""

    def __init__(self) -> None:
        self.items: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], log: Path, **kw: Any) -> subprocess.Popen[bytes]:
        out = log.open("ab")
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        self.items.append((name, proc))
        return proc

    def stop_all(self) -> None:
        for name, proc in reversed(self.items):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            print(f"  stopped {name} (pid {proc.pid}, exit {proc.returncode})", flush=True)
        self.items.clear()


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SetupError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SetupError(f"nothing listens on port {port} after {timeout} s")


class Broker:
    """A paho client that remembers the last payload of every topic and counts messages."""

    def __init__(self, port: int) -> None:
        self.last: dict[str, bytes] = {}
        self.count: dict[str, int] = {}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="ha-smoke-observer")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([(f"{HEMS}/#", 1), (f"{DISCOVERY}/#", 1)])
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.last[msg.topic] = msg.payload
        self.count[msg.topic] = self.count.get(msg.topic, 0) + 1

    def json(self, topic: str) -> Any:
        raw = self.last.get(topic)
        return json.loads(raw) if raw else None

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


async def until(predicate: Any, limit_s: float, step: float = 0.5) -> Any:
    """Poll `predicate` (sync or async) until it returns something truthy; that value, or None."""
    end = time.monotonic() + limit_s
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value or time.monotonic() > end:
            return value
        await asyncio.sleep(step)


class HA:
    """REST and websocket access to the Home Assistant under test."""

    def __init__(self, session: aiohttp.ClientSession, port: int) -> None:
        self.session = session
        self.base = f"http://127.0.0.1:{port}"
        self.token = ""
        self._ws_id = 0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def onboard(self) -> None:
        client_id = f"{self.base}/"
        async with self.session.post(
            f"{self.base}/api/onboarding/users",
            json={
                "client_id": client_id,
                "name": "Smoke",
                "username": "smoke",
                "password": "smoke-Pa55",
                "language": "en",
            },
        ) as r:
            if r.status != 200:
                raise SetupError(f"onboarding user: HTTP {r.status} {await r.text()}")
            code = (await r.json())["auth_code"]
        async with self.session.post(
            f"{self.base}/auth/token", data={"grant_type": "authorization_code", "code": code, "client_id": client_id}
        ) as r:
            if r.status != 200:
                raise SetupError(f"token: HTTP {r.status} {await r.text()}")
            self.token = (await r.json())["access_token"]

    async def get(self, path: str) -> Any:
        async with self.session.get(self.base + path, headers=self.headers) as r:
            r.raise_for_status()
            return await r.json()

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.session.post(self.base + path, headers=self.headers, json=body) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text

    async def ws(self, *messages: dict[str, Any]) -> list[Any]:
        """Send websocket commands, return their results in order."""
        async with self.session.ws_connect(f"{self.base}/api/websocket") as ws:
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": self.token})
            if (await ws.receive_json()).get("type") != "auth_ok":
                raise SetupError("websocket auth failed")
            results = []
            for message in messages:
                self._ws_id += 1
                await ws.send_json({"id": self._ws_id, **message})
                while True:
                    reply = await ws.receive_json()
                    if reply.get("id") == self._ws_id and reply.get("type") == "result":
                        break
                if not reply.get("success"):
                    raise SetupError(f"websocket {message['type']}: {reply.get('error')}")
                results.append(reply["result"])
            return results

    async def ws_raw(self, message: dict[str, Any]) -> dict[str, Any]:
        """One websocket command; its whole result message, success or not."""
        async with self.session.ws_connect(f"{self.base}/api/websocket") as ws:
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": self.token})
            if (await ws.receive_json()).get("type") != "auth_ok":
                raise SetupError("websocket auth failed")
            await ws.send_json({"id": 1, **message})
            while True:
                reply = await ws.receive_json()
                if reply.get("id") == 1 and reply.get("type") == "result":
                    return reply

    async def states(self) -> dict[str, dict[str, Any]]:
        return {s["entity_id"]: s for s in await self.get("/api/states")}

    async def call(self, domain: str, service: str, data: dict[str, Any]) -> tuple[int, Any]:
        return await self.post(f"/api/services/{domain}/{service}", data)


def write_configs(work: Path, ports: dict[str, int]) -> None:
    (work / "mosquitto.conf").write_text(
        f"listener {ports['mqtt']} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        f"log_dest file {work / 'mosquitto.log'}\n"
    )
    ha = work / "ha-config"
    ha.mkdir()
    (ha / "configuration.yaml").write_text(
        f"""homeassistant:
  name: ha-smoke
  time_zone: {TZ}
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  unit_system: metric
  currency: EUR
  country: NL
http:
  server_host: 127.0.0.1
  server_port: {ports["ha"]}
api:
config:
onboarding:
websocket_api:
logger:
  default: warning
  logs:
    homeassistant.components.mqtt: info
"""
    )


def make_prices(agent: Path, path: Path) -> None:
    """Today's and tomorrow's sample prices, so that standalone mode has something to plan."""
    code = (
        "import json, sys; from datetime import datetime, timedelta; from zoneinfo import ZoneInfo\n"
        "from energy_agent.testing.prices import curve_json, sample_curve\n"
        f"z = ZoneInfo({TZ!r}); d = datetime.now(z).date()\n"
        "print(json.dumps(curve_json(sample_curve([d, d + timedelta(days=1)], z), z)))\n"
    )
    out = subprocess.run([str(agent.parent / "python"), "-c", code], check=True, capture_output=True, text=True)
    path.write_text(out.stdout)


def simulator_credentials(log: Path, timeout: float = 20) -> dict[str, str]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        text = log.read_text() if log.exists() else ""
        account = re.search(r"email=(\S+) password=(\S+)", text)
        point = re.search(r"charge point: (\S+)", text)
        url = re.search(r"listening on (http://\S+)", text)
        if account and point and url:
            return {"email": account[1], "password": account[2], "charge_point_id": point[1], "base_url": url[1]}
        time.sleep(0.2)
    raise SetupError(f"simulator printed no credentials; see {log}")


def agent_config(work: Path, ports: dict[str, int], creds: dict[str, str]) -> Path:
    cfg = work / "agent.yaml"
    doc = {
        "operation_mode": "standalone",
        "timezone": TZ,
        "state_dir": str(work / "agent-state"),
        "mqtt": {"host": "127.0.0.1", "port": ports["mqtt"], "client_id": "energy-agent-ha-smoke"},
        "standalone": {"price_threshold": 0.25, "top_x_charge_count": 16},
        "health": {"port": 0},
        "prices": {"source": "file", "path": str(work / "prices.json")},
        "chargeamps": {**creds, "poll_interval_s": 5},
    }
    cfg.write_text(json.dumps(doc, indent=2))  # JSON is YAML
    return cfg


def is_number(value: str) -> bool:
    try:
        float(value)
        return True
    except ValueError:
        return False


def is_timestamp_or_unknown(value: str) -> bool:
    if value == "unknown":
        return True
    try:
        datetime.fromisoformat(value)
        return True
    except ValueError:
        return False


# key -> (entity domain, state check, wanted attributes); keys are the discovery component ids.
ON_OFF = ("on", "off")
EXPECTED_DEVICE: dict[str, tuple[str, Any, dict[str, Any]]] = {
    "state": ("sensor", lambda s, a: s in a.get("options", ()), {"device_class": "enum"}),
    "schedule_source": ("sensor", lambda s, a: s in ("standalone", "hems", "none"), {"device_class": "enum"}),
    "schedule_active": ("binary_sensor", lambda s, a: s in ON_OFF, {"device_class": "running"}),
    "next_period_start": ("sensor", lambda s, a: is_timestamp_or_unknown(s), {"device_class": "timestamp"}),
    "next_period_end": ("sensor", lambda s, a: is_timestamp_or_unknown(s), {"device_class": "timestamp"}),
    "current_power": (
        "sensor",
        lambda s, a: is_number(s),
        {"device_class": "power", "unit_of_measurement": "kW", "state_class": "measurement"},
    ),
    "session_energy": (
        "sensor",
        lambda s, a: is_number(s),
        {"device_class": "energy", "unit_of_measurement": "kWh", "state_class": "total"},
    ),
    "total_energy": (
        "sensor",
        lambda s, a: is_number(s),
        {"device_class": "energy", "unit_of_measurement": "kWh", "state_class": "total_increasing"},
    ),
    "hems_connected": ("binary_sensor", lambda s, a: s in ON_OFF, {"device_class": "connectivity"}),
    "last_hems_command_at": ("sensor", lambda s, a: is_timestamp_or_unknown(s), {"device_class": "timestamp"}),
    "price_threshold_active": ("binary_sensor", lambda s, a: s in ON_OFF, {}),
    "no_eligible_slots": ("binary_sensor", lambda s, a: s in ON_OFF, {"device_class": "problem"}),
    "online": ("binary_sensor", lambda s, a: s == "on", {"device_class": "connectivity"}),
    "last_error": ("sensor", lambda s, a: s != "unavailable", {}),
    "last_command_result": ("sensor", lambda s, a: s in ("unknown", "accepted", "refused"), {"device_class": "enum"}),
}
EXPECTED_AGENT: dict[str, tuple[str, Any, dict[str, Any]]] = {
    "operation_mode": ("select", lambda s, a: s == "standalone", {"options": ["standalone", "hems"]}),
    "standalone_paused": ("switch", lambda s, a: s == "off", {}),
    "price_threshold": (
        "number",
        lambda s, a: s == "0.25",
        {"unit_of_measurement": "EUR/kWh", "min": -10.0, "max": 10.0, "step": 0.001, "mode": "box"},
    ),
    "top_x_charge_count": ("number", lambda s, a: float(s) == 16, {"min": 1, "max": 1000, "step": 1}),
}
DIAGNOSTIC = {"online", "last_error", "last_command_result"}
CONFIG = {"price_threshold", "top_x_charge_count"}


async def run_checks(args: argparse.Namespace, work: Path, procs: Procs) -> None:
    ports = {"mqtt": free_port(), "ha": free_port(), "sim": free_port()}
    write_configs(work, ports)
    print(f"work dir {work}; ports {ports}", flush=True)

    print("== starting Mosquitto", flush=True)
    mosq = procs.start("mosquitto", ["mosquitto", "-c", str(work / "mosquitto.conf")], work / "mosquitto.out")
    wait_port(ports["mqtt"], mosq, 10)
    broker = Broker(ports["mqtt"])

    print("== starting Home Assistant", flush=True)
    hass = procs.start("home-assistant", [args.hass, "-c", str(work / "ha-config"), "--skip-pip"], work / "hass.out")
    wait_port(ports["ha"], hass, 180)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        ha = HA(session, ports["ha"])
        await until(lambda: _onboarding_ready(ha), 60)
        await ha.onboard()
        config = await ha.get("/api/config")
        check(True, "Home Assistant started and onboarded", f"version {config['version']}")

        status, flow = await ha.post("/api/config/config_entries/flow", {"handler": "mqtt"})
        if status != 200 or flow.get("step_id") != "broker":
            raise SetupError(f"MQTT config flow start: HTTP {status} {flow}")
        status, done = await ha.post(
            f"/api/config/config_entries/flow/{flow['flow_id']}", {"broker": "127.0.0.1", "port": ports["mqtt"]}
        )
        check(
            status == 200 and done.get("type") == "create_entry",
            "MQTT integration added through the config flow",
            f"HTTP {status} {done.get('type') if isinstance(done, dict) else done}",
        )
        birth = await until(lambda: broker.last.get(f"{DISCOVERY}/status") == b"online", 30)
        check(bool(birth), "Home Assistant's MQTT birth message seen on homeassistant/status")

        print("== starting the Charge Amps simulator and the agent", flush=True)
        make_prices(Path(args.agent), work / "prices.json")
        sim = procs.start(
            "simulator",
            [args.agent, "chargeamps", "simulate", "--port", str(ports["sim"])],
            work / "simulator.log",
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        wait_port(ports["sim"], sim, 30)
        cfg = agent_config(work, ports, simulator_credentials(work / "simulator.log"))
        agent_cmd = [args.agent, "run", "--config", str(cfg)]
        agent = procs.start("agent", agent_cmd, work / "agent.log")

        # --- discovery on the broker
        agent_topic = f"{DISCOVERY}/device/{AGENT_NODE}/config"
        await until(
            lambda: agent_topic in broker.last and broker.last.get(f"{HEMS}/agent/availability") == b"online", 60
        )
        connector_nodes = await until(
            lambda: sorted(
                t.split("/")[2]
                for t in broker.last
                if t.startswith(f"{DISCOVERY}/device/{AGENT_NODE}_") and broker.last[t]
            ),
            60,
        )
        check(agent_topic in broker.last, "agent published its device discovery", agent_topic)
        check(
            bool(connector_nodes),
            "agent published one discovery message per connector",
            ", ".join(connector_nodes or []),
        )
        announced: dict[str, dict[str, Any]] = {}
        for node in [AGENT_NODE, *(connector_nodes or [])]:
            announced[node] = broker.json(f"{DISCOVERY}/device/{node}/config")

        # --- Home Assistant's registries
        def wanted_unique_ids() -> set[str]:
            return {c["unique_id"] for p in announced.values() for c in p["cmps"].values()}

        async def registry() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
            devices, entities = await ha.ws(
                {"type": "config/device_registry/list"}, {"type": "config/entity_registry/list"}
            )
            have = {e["unique_id"] for e in entities if e["platform"] == "mqtt"}
            return (devices, entities) if wanted_unique_ids() <= have else None

        reg = await until(registry, 60, step=1)
        devices, entities = reg or await ha.ws(
            {"type": "config/device_registry/list"}, {"type": "config/entity_registry/list"}
        )
        by_unique = {e["unique_id"]: e for e in entities if e["platform"] == "mqtt"}
        device_by_node: dict[str, dict[str, Any]] = {}
        for d in devices:
            for domain, ident in d["identifiers"]:
                if domain == "mqtt":
                    device_by_node[ident] = d
        missing = sorted(wanted_unique_ids() - set(by_unique))
        check(
            not missing,
            f"Home Assistant created every announced entity ({len(wanted_unique_ids())})",
            "missing: " + ", ".join(missing) if missing else "",
        )
        agent_dev = device_by_node.get(AGENT_NODE)
        check(
            agent_dev is not None,
            "device registry: the Energy Agent device",
            f"{agent_dev['name']} / {agent_dev['manufacturer']} / {agent_dev['model']} / sw {agent_dev['sw_version']}"
            if agent_dev
            else "",
        )
        for node in connector_nodes or []:
            dev = device_by_node.get(node)
            check(
                dev is not None and agent_dev is not None and dev.get("via_device_id") == agent_dev["id"],
                f"device registry: connector device {node}, via the agent's device",
                f"{dev['name']} / model {dev['model']}" if dev else "no device",
            )
        ours = {d["id"] for n, d in device_by_node.items() if n == AGENT_NODE or n.startswith(AGENT_NODE + "_")}
        check(
            len(ours) == 1 + len(connector_nodes or []),
            "one device per connector plus the agent device",
            f"{len(ours)} devices",
        )
        for node, payload in announced.items():
            dev = device_by_node.get(node)
            wrong = [
                uid
                for c in payload["cmps"].values()
                if (uid := c["unique_id"]) in by_unique and (dev is None or by_unique[uid]["device_id"] != dev["id"])
            ]
            check(not wrong, f"entities of {node} belong to its device", ", ".join(wrong))

        # entity ids: the agent asks for default_entity_id; older HA (before 2025.10) ignores that key.
        differ = [
            f"{c['default_entity_id']} -> {by_unique[c['unique_id']]['entity_id']}"
            for p in announced.values()
            for c in p["cmps"].values()
            if c["unique_id"] in by_unique and by_unique[c["unique_id"]]["entity_id"] != c.get("default_entity_id")
        ]
        info(
            f"entity ids as requested by default_entity_id: {'all' if not differ else f'{len(differ)} differ'}"
            f" (Home Assistant {config['version']}; default_entity_id is honoured from 2025.10 on)"
        )
        for line in differ:
            print(f"        requested -> got: {line}", flush=True)

        # Repairs: Home Assistant raises an issue for deprecated or conflicting discovery options.
        try:
            (issues,) = await ha.ws({"type": "repairs/list_issues"})
            mqtt_issues = [
                f"{i['issue_id']} ({i.get('translation_key')})" for i in issues["issues"] if i.get("domain") == "mqtt"
            ]
            check(not mqtt_issues, "no MQTT repair issue raised in Home Assistant", ", ".join(mqtt_issues))
        except SetupError as err:
            info(f"repairs not checked: {err}")

        def eid(node: str, key: str) -> str:
            return by_unique[f"{node}_{key}"]["entity_id"]

        # --- states, units, classes
        await asyncio.sleep(2)
        # wait until the connector status (polled every 5 s) has reached HA
        first = (connector_nodes or [None])[0]
        if first:
            await until(lambda: _state_is(ha, eid(first, "online"), "on"), 30)
        states = await ha.states()
        for node in connector_nodes or []:
            for key, (domain, state_ok, attrs) in EXPECTED_DEVICE.items():
                _check_entity(states, by_unique, node, key, domain, state_ok, attrs, DIAGNOSTIC)
        for key, (domain, state_ok, attrs) in EXPECTED_AGENT.items():
            _check_entity(states, by_unique, AGENT_NODE, key, domain, state_ok, attrs, CONFIG)
        unavailable = [
            e["entity_id"]
            for e in by_unique.values()
            if e["device_id"] in ours and states.get(e["entity_id"], {}).get("state") == "unavailable"
        ]
        check(not unavailable, "no entity unavailable while the agent runs", ", ".join(unavailable))

        # --- controls through Home Assistant services
        print("== exercising the controls through Home Assistant", flush=True)
        mode = eid(AGENT_NODE, "operation_mode")
        status_topic = f"{HEMS}/{_status_path(announced, first)}" if first else None
        status, _ = await ha.call("select", "select_option", {"entity_id": mode, "option": "hems"})
        got = await until(lambda: (broker.json(f"{HEMS}/agent/settings") or {}).get("operation_mode") == "hems", 15)
        check(status == 200 and bool(got), "select.select_option operation_mode=hems -> hems/agent/settings says hems")
        if status_topic:
            got = await until(lambda: (broker.json(status_topic) or {}).get("operation_mode") == "hems", 20)
            check(
                bool(got),
                f"agent switched: retained {status_topic} has operation_mode hems",
                f"operation_mode={(broker.json(status_topic) or {}).get('operation_mode')}",
            )
        got = await until(lambda: _state_is(ha, mode, "hems"), 10)
        check(bool(got), f"{mode} shows hems in Home Assistant")
        if first:
            got = await until(lambda: _state_is(ha, eid(first, "schedule_source"), "standalone", negate=True), 20)
            check(
                bool(got),
                "schedule source is no longer standalone after the switch to hems",
                await _state(ha, eid(first, "schedule_source")),
            )

        cap = eid(AGENT_NODE, "price_threshold")
        status, _ = await ha.call("number", "set_value", {"entity_id": cap, "value": 0.2})
        got = await until(lambda: (broker.json(f"{HEMS}/agent/settings") or {}).get("price_threshold") == 0.2, 15)
        check(
            status == 200 and bool(got),
            "number.set_value price_threshold=0.2 -> hems/agent/settings has 0.2",
            json.dumps(broker.json(f"{HEMS}/agent/settings")),
        )
        got = await until(lambda: _state_is(ha, cap, "0.2"), 10)
        check(bool(got), f"{cap} shows 0.2", await _state(ha, cap))

        top = eid(AGENT_NODE, "top_x_charge_count")
        status, _ = await ha.call("number", "set_value", {"entity_id": top, "value": 5})
        got = await until(lambda: (broker.json(f"{HEMS}/agent/settings") or {}).get("top_x_charge_count") == 5, 15)
        check(status == 200 and bool(got), "number.set_value top_x_charge_count=5 -> settings has 5")
        got = await until(lambda: _state_is_number(ha, top, 5), 10)
        check(bool(got), f"{top} shows 5", await _state(ha, top))

        # Through the websocket API, as the UI does (the REST API answers a ServiceValidationError with a 500).
        reply = await ha.ws_raw(
            {
                "type": "call_service",
                "domain": "number",
                "service": "set_value",
                "service_data": {"entity_id": top, "value": 0},
            }
        )
        error = reply.get("error") or {}
        check(
            not reply.get("success") and error.get("code") == "service_validation_error",
            "Home Assistant itself refuses top_x_charge_count=0 (below the announced min 1)",
            f"{error.get('code')}: {error.get('message')}",
        )
        before = broker.count.get(f"{HEMS}/agent/settings", 0)
        broker.publish(f"{HEMS}/agent/settings/top_x_charge_count/set", "0")
        got = await until(lambda: broker.count.get(f"{HEMS}/agent/settings", 0) > before, 10)
        settings = broker.json(f"{HEMS}/agent/settings") or {}
        check(
            bool(got) and settings.get("top_x_charge_count") == 5,
            "top_x_charge_count=0 sent over MQTT is refused; the settings topic is published again with 5",
            json.dumps(settings),
        )
        await asyncio.sleep(1)
        check(await _state_is_number(ha, top, 5), f"{top} still shows the value in force (5)", await _state(ha, top))
        log_text = (work / "agent.log").read_text(errors="replace")
        check(
            "top_x_charge_count" in log_text and re.search(r"(?i)warn", log_text) is not None,
            "agent logged a warning about the refused value",
        )

        pause = eid(AGENT_NODE, "standalone_paused")
        status, _ = await ha.call("switch", "turn_on", {"entity_id": pause})
        got = await until(lambda: (broker.json(f"{HEMS}/agent/settings") or {}).get("paused") is True, 15)
        check(status == 200 and bool(got), "switch.turn_on pause -> settings has paused true")
        check(bool(await until(lambda: _state_is(ha, pause, "on"), 10)), f"{pause} shows on")
        status, _ = await ha.call("switch", "turn_off", {"entity_id": pause})
        got = await until(lambda: (broker.json(f"{HEMS}/agent/settings") or {}).get("paused") is False, 15)
        check(status == 200 and bool(got), "switch.turn_off pause -> settings has paused false")

        status, _ = await ha.call("select", "select_option", {"entity_id": mode, "option": "standalone"})
        got = (
            await until(lambda: (broker.json(status_topic) or {}).get("operation_mode") == "standalone", 20)
            if status_topic
            else True
        )
        check(status == 200 and bool(got), "select.select_option operation_mode=standalone -> agent back in standalone")

        # --- Home Assistant's birth message: the agent announces itself again
        watched = [f"{DISCOVERY}/device/{n}/config" for n in announced] + [f"{HEMS}/agent/settings"]
        if status_topic:
            watched.append(status_topic)
        before_counts = {t: broker.count.get(t, 0) for t in watched}
        broker.publish(f"{DISCOVERY}/status", "online")
        got = await until(lambda: all(broker.count.get(t, 0) > before_counts[t] for t in watched), 10)
        check(
            bool(got),
            "birth message online on homeassistant/status -> discovery, settings and status published again",
            ", ".join(t for t in watched if broker.count.get(t, 0) == before_counts[t]),
        )

        # --- the agent dies: its last will makes every entity unavailable
        print("== SIGKILL the agent", flush=True)
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=10)
        got = await until(lambda: broker.last.get(f"{HEMS}/agent/availability") == b"offline", 30)
        check(bool(got), "broker published the agent's last will: hems/agent/availability offline")

        async def all_unavailable() -> list[str] | None:
            states = await ha.states()
            left = [
                e["entity_id"]
                for e in by_unique.values()
                if e["device_id"] in ours and states.get(e["entity_id"], {}).get("state") != "unavailable"
            ]
            return None if left else []

        got = await until(all_unavailable, 20, step=1)
        states = await ha.states()
        left = [
            e["entity_id"]
            for e in by_unique.values()
            if e["device_id"] in ours and states.get(e["entity_id"], {}).get("state") != "unavailable"
        ]
        check(
            got is not None and not left,
            f"every entity of the agent's {len(ours)} devices is unavailable in Home Assistant",
            ", ".join(left),
        )

        # --- the agent comes back: entities available again, the settings survived
        print("== restarting the agent", flush=True)
        procs.items = [(n, p) for n, p in procs.items if p is not agent]
        procs.start("agent", agent_cmd, work / "agent.log")
        got = await until(lambda: _state_is(ha, cap, "unavailable", negate=True), 60)
        check(bool(got), "after a restart the entities are available again", f"{cap}={await _state(ha, cap)}")
        check(
            await _state_is(ha, cap, "0.2"),
            "price cap 0.2 set from Home Assistant survived the restart",
            await _state(ha, cap),
        )

    broker.close()


async def _onboarding_ready(ha: HA) -> bool:
    try:
        async with ha.session.get(f"{ha.base}/api/onboarding") as r:
            return r.status == 200
    except aiohttp.ClientError:
        return False


async def _state(ha: HA, entity_id: str) -> str:
    try:
        return (await ha.get(f"/api/states/{entity_id}"))["state"]
    except aiohttp.ClientError:
        return "<missing>"


async def _state_is(ha: HA, entity_id: str, wanted: str, negate: bool = False) -> bool:
    state = await _state(ha, entity_id)
    return (state != wanted) if negate else (state == wanted)


async def _state_is_number(ha: HA, entity_id: str, wanted: float) -> bool:
    state = await _state(ha, entity_id)
    return is_number(state) and float(state) == wanted


def _status_path(announced: dict[str, dict[str, Any]], node: str) -> str:
    """`charge-amps/1/status` from the connector's discovery state topic."""
    return announced[node]["state_topic"].split("/", 1)[1]


def _check_entity(
    states: dict[str, dict[str, Any]],
    by_unique: dict[str, dict[str, Any]],
    node: str,
    key: str,
    domain: str,
    state_ok: Any,
    attrs: dict[str, Any],
    categorised: set[str],
) -> None:
    name = f"{node}/{key}"
    entry = by_unique.get(f"{node}_{key}")
    if entry is None:
        check(False, f"{name}: exists", "not in the entity registry")
        return
    entity_id = entry["entity_id"]
    state = states.get(entity_id)
    if state is None:
        check(False, f"{name} ({entity_id}): has a state", "no state")
        return
    value, attributes = state["state"], state["attributes"]
    problems = []
    if not entity_id.startswith(domain + "."):
        problems.append(f"domain {entity_id.split('.')[0]} != {domain}")
    try:
        if not state_ok(value, attributes):
            problems.append(f"state {value!r} not sane")
    except (TypeError, ValueError) as err:
        problems.append(f"state {value!r}: {err}")
    for attr, wanted in attrs.items():
        if attributes.get(attr) != wanted:
            problems.append(f"{attr}={attributes.get(attr)!r} (want {wanted!r})")
    if key in categorised and entry.get("entity_category") is None:
        problems.append("no entity_category")
    shown = {k: attributes[k] for k in ("unit_of_measurement", "device_class", "state_class") if k in attributes}
    check(not problems, f"{name} ({entity_id})", "; ".join(problems) or f"state={value!r} {shown}")


def scan_ha_log(work: Path) -> list[str]:
    """Warnings and errors Home Assistant logged about MQTT or our topics/ids (traceback lines included)."""
    log = work / "ha-config" / "home-assistant.log"
    if not log.exists():
        return []
    lines = log.read_text(errors="replace").splitlines()
    hits, keep = [], False
    for line in lines:
        head = re.match(r"^\d{4}-\d\d-\d\d \S+ (\w+) ", line)
        if head:
            keep = head[1] in ("WARNING", "ERROR", "CRITICAL") and (
                "mqtt" in line.lower() or "energy_agent" in line or "hems/" in line or "homeassistant/device" in line
            )
            if "is outside valid range" in line:  # the refusal this run provokes on purpose
                keep = False
        if keep:
            hits.append(line)
    return hits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hass", required=True, help="the hass executable of the Home Assistant venv")
    parser.add_argument("--agent", required=True, help="the energy-agent executable")
    parser.add_argument("--workdir", help="where configs and logs go (default: a new /tmp/ha-smoke-* dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir even when every check passed")
    args = parser.parse_args()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ha-smoke-"))
    work.mkdir(parents=True, exist_ok=True)
    procs = Procs()
    setup_error = None

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        asyncio.run(run_checks(args, work, procs))
    except SetupError as err:
        setup_error = str(err)
        check(False, "setup", setup_error)
    except KeyboardInterrupt:
        setup_error = "interrupted"
        check(False, "setup", "interrupted")
    except Exception as err:  # a bug or an unexpected answer: report it as a failure, still clean up
        setup_error = f"{type(err).__name__}: {err}"
        check(False, "unexpected error", setup_error)
        import traceback

        traceback.print_exc()
    finally:
        print("== stopping everything", flush=True)
        procs.stop_all()

    hits = scan_ha_log(work)
    print(f"\n== Home Assistant log: {len(hits)} MQTT-related warning/error lines", flush=True)
    for line in hits:
        print("  " + line[:400])
    ours = [h for h in hits if "energy_agent" in h or "hems/" in h or "homeassistant/device" in h]
    check(
        not ours,
        "Home Assistant logged no warning or error about the agent's topics or ids",
        f"{len(ours)} lines" if ours else "",
    )

    failed = [r for r in RESULTS if not r[0]]
    print(f"\n== {len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    for ok, name, detail in RESULTS:
        print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  -- {detail}" if detail and not ok else ""))
    for text in INFOS:
        print(f"INFO  {text}")
    if failed or args.keep:
        print(f"\nlogs kept in {work} (hass: ha-config/home-assistant.log, agent.log, simulator.log, mosquitto.log)")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if setup_error and not any(ok for ok, *_ in RESULTS[:1]):
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
