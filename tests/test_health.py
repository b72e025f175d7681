"""The health endpoint over real HTTP: /healthz, /status and /metrics of a running agent, and the Metrics registry."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from energy_agent import __version__
from energy_agent.api.errors import DeviceUnavailableError
from energy_agent.api.metrics import CONTENT_TYPE, LATENCY_BUCKETS_S, Exposition, Metrics
from energy_agent.app.compose import build_agent
from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.config import load_settings
from energy_agent.hems import contracts
from energy_agent.testing.broker import free_port
from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder
from energy_agent.web.health import HealthServer
from tests import fake_plugin
from tests.health_client import get, parse_prometheus, serving, value
from tests.world import AMS, PASSWORD, PUT_ROUTE, World, eventually, world

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
SCHEDULE = {
    "source": "hems",
    "command_id": "health-1",
    "periods": [{"start": (NOW + timedelta(hours=2)).isoformat(), "end": (NOW + timedelta(hours=3)).isoformat()}],
    "max_current": 10,
    "expires_at": (NOW + timedelta(hours=12)).isoformat(),
}


@pytest.fixture
async def hems(broker: Broker, recorder: Recorder, tmp_path: Path) -> AsyncIterator[World]:
    async with world(broker, recorder, tmp_path, NOW) as w:
        await w.start_agent()
        yield w


async def test_a_healthy_agent_answers_all_three_endpoints(hems: World) -> None:
    agent = hems.agent
    assert agent is not None
    await hems.command(SCHEDULE)
    await eventually(lambda: hems.status()["last_command_result"] == "accepted")
    async with serving(agent) as url:
        health = await get(f"{url}/healthz")
        status = await get(f"{url}/status")
        metrics = await get(f"{url}/metrics")

    assert (health.status, health.json()) == (200, {"ok": True, "reasons": [], "warnings": []})
    assert health.content_type.startswith("application/json")

    document = status.json()
    assert status.status == 200
    assert document["version"] == __version__
    assert document["operation_mode"] == "hems"
    assert document["mqtt_connected"] is True
    assert document["hems_connected"] is True  # a command was just heard
    assert document["state_error"] is None
    assert list(document["devices"]) == ["charge-amps/1"]
    device = document["devices"]["charge-amps/1"]
    assert contracts.validate("hems/v1/status", device) == []
    assert device["last_command_id"] == "health-1"
    assert device == hems.status()

    assert metrics.status == 200 and metrics.content_type == CONTENT_TYPE
    samples = parse_prometheus(metrics.text)
    assert value(samples, "energy_agent_up") == 1
    assert value(samples, "energy_agent_info", version=__version__, operation_mode="hems") == 1
    assert value(samples, "energy_agent_mqtt_connected") == 1
    assert value(samples, "energy_agent_mqtt_reconnects_total") == 0
    assert value(samples, "energy_agent_hems_commands_total", result="accepted") == 1
    assert value(samples, "energy_agent_hems_commands_total", result="refused") == 0
    assert value(samples, "energy_agent_device_reachable", device="charge-amps/1") == 1
    assert value(samples, "energy_agent_device_writes_total", device="charge-amps/1") == 1
    assert value(samples, "energy_agent_state_write_ok") == 1
    calls = {"device_type": "charge-amps", "operation": "put_schedule"}
    assert value(samples, "energy_agent_device_api_calls_total", **calls) == 1
    assert value(samples, "energy_agent_device_api_errors_total", **calls) == 0
    reads = {"device_type": "charge-amps", "operation": "read_status"}
    assert value(samples, "energy_agent_device_api_calls_total", **reads) >= 1
    assert_histogram(samples, "energy_agent_device_api_duration_seconds", calls, expected_count=1)
    assert len(hems.writes(PUT_ROUTE)) == 1

    for answer in (health, status, metrics):
        assert PASSWORD not in answer.text and "api-key-secret" not in answer.text


def assert_histogram(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
                     labels: dict[str, str], *, expected_count: float) -> None:  # fmt: skip
    """Buckets are cumulative, end at +Inf, and agree with _count; _sum is a plausible duration."""
    bounds = [*(repr(float(b)) for b in LATENCY_BUCKETS_S), "+Inf"]
    counts = [value(samples, f"{name}_bucket", **labels, le=bound) for bound in bounds]
    assert counts == sorted(counts), counts
    assert counts[-1] == value(samples, f"{name}_count", **labels) == expected_count
    assert 0 < value(samples, f"{name}_sum", **labels) < 10


async def test_healthz_names_each_reason_until_the_agent_is_ready(tmp_path: Path) -> None:
    """Before the broker and the devices are there, 503 says why; it turns 200 once both are."""
    pm = get_plugin_manager(load_entry_points=False)
    pm.register(fake_plugin, name="fake")
    registry = collect(pm)
    broker = Broker(tmp_path / "late")
    (tmp_path / "late").mkdir()
    settings = load_settings(
        registry,
        environ=False,
        data={
            "state_dir": str(tmp_path / "state"),
            "mqtt": {
                "port": broker.port,
                "reconnect_min_s": 0.05,
                "reconnect_max_s": 0.2,
                "username": "agent",
                "password": "mq-secret",
            },
            "fake": {"topic_ids": ["1", "2"]},
            "health": {"port": 0},
            "web": {"port": 0},
        },
    )
    agent = build_agent(settings, registry)
    async with serving(agent) as url:
        answer = await get(f"{url}/healthz")
        assert answer.status == 503
        assert answer.json() == {
            "ok": False,
            "reasons": [
                f"mqtt: not connected to the broker 127.0.0.1:{broker.port}",
                "fake: no device running yet (it could not be reached at start)",
            ],
            "warnings": [],
        }
        devices = await agent.build_devices(registry.device_types["fake"])
        agent.add_devices(devices)
        reasons = (await get(f"{url}/healthz")).json()["reasons"]
        assert reasons[1:] == ["fake/1: status not read yet", "fake/2: status not read yet"]

        fake = fake_plugin.CREATED[-1]
        fake.fail_next = DeviceUnavailableError("fake cloud: 502 from the proxy")
        for runtime in agent.runtimes.values():
            await runtime.poll_status()
        reasons = (await get(f"{url}/healthz")).json()["reasons"]
        assert reasons[1:] == ["fake/2: unreachable: fake cloud: 502 from the proxy"]

        bus_task = asyncio.create_task(agent.bus.run())
        try:
            await asyncio.sleep(0.3)
            reasons = (await get(f"{url}/healthz")).json()["reasons"]
            assert reasons[0].startswith(f"mqtt: not connected to the broker 127.0.0.1:{broker.port} (")
            assert "refused" in reasons[0].lower()
            broker.start()
            await agent.bus.wait_connected(5)
            await agent.runtimes["fake/2"].poll_status()
            answer = await get(f"{url}/healthz")
            assert (answer.status, answer.json()) == (200, {"ok": True, "reasons": [], "warnings": []})
            status = await get(f"{url}/status")
            assert "mq-secret" not in status.text
        finally:
            await agent.bus.announce_offline()
            bus_task.cancel()
            await asyncio.gather(bus_task, return_exceptions=True)
            broker.stop()


async def test_binds_loopback_on_the_configured_port_and_stop_frees_it(tmp_path: Path) -> None:
    registry = collect(get_plugin_manager(load_entry_points=False))
    port = free_port()
    settings = load_settings(registry, environ=False, data={"state_dir": str(tmp_path), "health": {"port": port}})
    assert settings.health.host == "127.0.0.1"
    agent = build_agent(settings, registry)
    server = HealthServer(agent.view, settings)
    assert await server.start() == port
    try:
        assert (await get(f"http://127.0.0.1:{port}/nowhere")).status == 404
        assert (await get(f"http://127.0.0.1:{port}/healthz", method="POST")).status == 405
        with pytest.raises(RuntimeError):
            await server.start()
        with pytest.raises(OSError):  # the port is taken: the caller decides what that means
            await HealthServer(agent.view, settings).start()
    finally:
        await server.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(f"http://127.0.0.1:{port}/healthz")
    await server.stop()  # a second stop is harmless


def test_measure_counts_calls_errors_and_latency_buckets() -> None:
    metrics = Metrics()
    with metrics.measure("kettle", "boil"):
        pass
    with pytest.raises(ValueError, match="scale"), metrics.measure("kettle", "boil"):
        raise ValueError("scale")
    metrics.observe_device_call("kettle", "boil", 45.0, ok=True)
    metrics.observe_device_call("kettle", "boil", 1e6, ok=True)
    stats = metrics.device_calls()[("kettle", "boil")]
    assert (stats.calls, stats.errors) == (4, 1)
    assert stats.bucket_counts[0] == 2  # the two instant calls
    assert stats.bucket_counts[LATENCY_BUCKETS_S.index(60.0)] == 1
    assert stats.bucket_counts[-1] == 1  # above every bound
    out = Exposition()
    metrics.expose(out)
    samples = parse_prometheus(out.text())
    labels = {"device_type": "kettle", "operation": "boil"}
    assert value(samples, "energy_agent_device_api_errors_total", **labels) == 1
    assert value(samples, "energy_agent_device_api_duration_seconds_bucket", **labels, le="+Inf") == 4
    assert math.isclose(
        value(samples, "energy_agent_device_api_duration_seconds_sum", **labels), 1e6 + 45, rel_tol=1e-6
    )


async def test_a_cancelled_call_is_not_counted() -> None:
    metrics = Metrics()

    async def hang() -> None:
        with metrics.measure("kettle", "boil"):
            await asyncio.sleep(10)

    task = asyncio.create_task(hang())
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert metrics.device_calls() == {}


def test_label_values_are_escaped() -> None:
    out = Exposition()
    out.family("x_total", "counter", "Odd labels.", [({"device": 'a"b\\c\nd'}, 3)])
    text = out.text()
    assert 'x_total{device="a\\"b\\\\c\\nd"} 3\n' in text
    assert value(parse_prometheus(text), "x_total", device='a\\"b\\\\c\\nd') == 3


async def test_metrics_and_status_mask_configured_secrets(hems: World) -> None:
    """Even if a device error echoed a secret, the endpoint would not show it."""
    agent = hems.agent
    assert agent is not None
    runtime = agent.runtimes["charge-amps/1"]
    runtime.status_error = f"cloud said: bad password {PASSWORD}"
    async with serving(agent) as url:
        answers = [await get(f"{url}/{path}") for path in ("healthz", "status", "metrics")]
    assert all(PASSWORD not in a.text for a in answers)
    assert "bad password ***" in json.dumps(answers[0].json())


async def test_any_secret_is_masked_and_the_json_stays_valid(tmp_path: Path) -> None:
    pm = get_plugin_manager(load_entry_points=False)
    pm.register(fake_plugin, name="fake")
    registry = collect(pm)
    odd_secret = '",\\'
    data = {"state_dir": str(tmp_path), "mqtt": {"username": "u", "password": odd_secret}, "fake": {}}
    agent = build_agent(load_settings(registry, environ=False, data=data), registry)
    agent.add_devices(await agent.build_devices(registry.device_types["fake"]))
    agent.runtimes["fake/1"].status_error = f"the cloud echoed {odd_secret} back"
    async with serving(agent) as url:
        health = await get(f"{url}/healthz")
        status = await get(f"{url}/status")
    assert "fake/1: unreachable: the cloud echoed *** back" in health.json()["reasons"]
    assert status.json()["devices"]["fake/1"]["last_error"] == "the cloud echoed *** back"
