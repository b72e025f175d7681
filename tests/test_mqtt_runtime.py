"""The MQTT connection and the agent against a real Mosquitto: online/offline, reconnects, republishing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from energy_agent.api.domain import Period, Schedule, ScheduleSource
from energy_agent.app.compose import build_agent
from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.config import MqttSettings, load_settings
from energy_agent.mqtt.bus import InboundMessage, MqttBus
from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder
from tests import fake_plugin


def settings_for(broker: Broker, tmp_path: Path, **extra: Any):  # type: ignore[no-untyped-def]
    pm = get_plugin_manager(load_entry_points=False)
    pm.register(fake_plugin, name="fake")
    registry = collect(pm)
    text = (
        f"state_dir: {tmp_path / 'state'}\ntimezone: Europe/Amsterdam\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}, reconnect_min_s: 0.05, reconnect_max_s: 0.2}}\n"
        "fake: {topic_ids: ['1', '2']}\nhealth: {port: 0}\nweb: {port: 0}\n"
    )
    for key, value in extra.items():
        text += f"{key}: {json.dumps(value)}\n"
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_settings(registry, path, environ=False), registry


async def test_bus_reconnects_resubscribes_and_republishes(broker: Broker) -> None:
    bus = MqttBus(
        MqttSettings(port=broker.port, reconnect_min_s=0.05, reconnect_max_s=0.2), availability_topic="t/agent/avail"
    )
    received: list[InboundMessage] = []
    connects = 0

    async def handler(message: InboundMessage) -> None:
        received.append(message)

    async def on_connect() -> None:
        nonlocal connects
        connects += 1

    bus.subscribe_messages("t/in/#", handler)
    bus.on_connect(on_connect)
    task = asyncio.create_task(bus.run())
    try:
        await bus.wait_connected(5)
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.publish("t/in/one", b"first", qos=1)
        async with asyncio.timeout(5):
            while not received:
                await asyncio.sleep(0.01)
        assert received[0].topic == "t/in/one" and received[0].payload == b"first"

        broker.stop()
        async with asyncio.timeout(5):
            while bus.connected:
                await asyncio.sleep(0.01)
        broker.start()
        await bus.wait_connected(10)
        assert bus.reconnects == 1
        async with asyncio.timeout(5):
            while connects < 2:
                await asyncio.sleep(0.01)
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.publish("t/in/two", b"second", qos=1)
            # availability was published again after the reconnect (the restarted broker had lost it)
            await client.subscribe("t/agent/avail")
            async with asyncio.timeout(5):
                message = await anext(aiter(client.messages))
            assert message.payload == b"online" and message.retain
        async with asyncio.timeout(5):
            while len(received) < 2:
                await asyncio.sleep(0.01)
        assert received[1].payload == b"second"
    finally:
        await bus.announce_offline()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_broker_absent_at_start_then_appears(tmp_path: Path) -> None:
    late = Broker(tmp_path)
    bus = MqttBus(MqttSettings(port=late.port, reconnect_min_s=0.05, reconnect_max_s=0.2), availability_topic="a/b")
    task = asyncio.create_task(bus.run())
    try:
        await asyncio.sleep(0.5)
        assert not bus.connected and "refused" in (bus.last_error or "").lower()
        late.start()
        await bus.wait_connected(5)
    finally:
        await bus.announce_offline()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        late.stop()


async def test_agent_publishes_status_and_capabilities_retained(
    broker: Broker, recorder: Recorder, tmp_path: Path
) -> None:
    settings, registry = settings_for(broker, tmp_path)
    agent = build_agent(settings, registry)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await recorder.wait_for("hems/agent/availability", lambda p: p == b"online")
        status = json.loads(await recorder.wait_for("hems/fake/2/status"))
        assert status["state"] == "plugged_in"
        assert status["schedule_source"] == "none"
        assert status["session_energy_kwh"] == 1.5
        assert status["operation_mode"] == "standalone"
        caps = json.loads(await recorder.wait_for("hems/fake/1/capabilities"))
        assert caps["max_current"] == 16 and caps["topic_id"] == "1"
    finally:
        stop.set()
        await task
    await recorder.wait_for("hems/agent/availability", lambda p: p == b"offline")
    assert all(("close", None) in d.calls for d in fake_plugin.CREATED[-2:])


async def test_schedule_in_force_survives_a_restart_without_rewrite(broker: Broker, tmp_path: Path) -> None:
    settings, registry = settings_for(broker, tmp_path, operation_mode="hems")
    start = datetime.now(UTC) + timedelta(hours=1)
    schedule = Schedule(
        periods=(Period(start, start + timedelta(hours=2)),),
        source=ScheduleSource.HEMS,
        max_current_a=10,
        expires_at=start + timedelta(hours=5),
        command_id="abc",
    )
    first = build_agent(settings, registry)
    stop = asyncio.Event()
    task = asyncio.create_task(first.run(stop))
    await first.started.wait()
    runtime = first.runtimes["fake/1"]

    async def twice() -> None:
        assert await runtime.put_schedule(schedule) is True
        assert await runtime.put_schedule(schedule) is False, "same schedule twice must not write twice"

    await runtime.submit(twice)
    stop.set()
    await task
    device = runtime.device
    assert [c[0] for c in device.writes()] == ["apply"]  # type: ignore[attr-defined]

    second = build_agent(settings, registry)
    stop = asyncio.Event()
    task = asyncio.create_task(second.run(stop))
    await second.started.wait()
    restored = second.runtimes["fake/1"]
    assert restored.record.schedule == schedule
    assert restored.device.writes() == []  # type: ignore[attr-defined]
    stop.set()
    await task


@pytest.mark.parametrize("bad_payload", [b"", b"\xff\xfe", b"x" * 100_000])
async def test_handler_errors_do_not_stop_the_bus(broker: Broker, bad_payload: bytes) -> None:
    bus = MqttBus(MqttSettings(port=broker.port), availability_topic="a/b")
    seen: list[bytes] = []

    async def exploding(message: InboundMessage) -> None:
        seen.append(message.payload)
        raise ValueError("handler bug")

    bus.subscribe_messages("x/#", exploding)
    task = asyncio.create_task(bus.run())
    try:
        await bus.wait_connected(5)
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.publish("x/1", bad_payload, qos=1)
            await client.publish("x/2", b"after", qos=1)
        async with asyncio.timeout(5):
            while len(seen) < 2:
                await asyncio.sleep(0.01)
        assert bus.connected
    finally:
        await bus.announce_offline()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_handlers_added_while_connecting_are_subscribed(broker: Broker) -> None:
    bus = MqttBus(MqttSettings(port=broker.port), availability_topic="a/b")
    seen: set[str] = set()

    async def handler(message: InboundMessage) -> None:
        seen.add(message.topic)

    bus.subscribe_messages("t/0", handler)
    task = asyncio.create_task(bus.run())
    added = 1
    try:
        # once the session is open and the bus is subscribing, register handlers on every loop turn, as
        # devices coming up concurrently do
        while bus._client is None:
            await asyncio.sleep(0)
        while not bus.connected and added < 40:
            bus.subscribe_messages(f"t/{added}", handler)
            added += 1
            await asyncio.sleep(0)
        await bus.wait_connected(5)
        async with aiomqtt.Client(broker.host, broker.port) as client:
            for number in range(added):
                await client.publish(f"t/{number}", b"x", qos=1)
        async with asyncio.timeout(5):
            while len(seen) < added:
                await asyncio.sleep(0.01)
        assert added > 1
    finally:
        await bus.announce_offline()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_stop_during_start_up_still_publishes_offline(broker: Broker, recorder: Recorder) -> None:
    bus = MqttBus(MqttSettings(port=broker.port), availability_topic="t/agent/availability")

    async def handler(message: InboundMessage) -> None:
        pass

    for number in range(300):  # subscribing takes a while: the stop lands inside the start-up
        bus.subscribe_messages(f"t/many/{number}", handler)
    task = asyncio.create_task(bus.run())
    try:
        async with asyncio.timeout(5):
            while bus._client is None:
                await asyncio.sleep(0)
        assert not bus.connected
        await bus.announce_offline()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await recorder.wait_for("t/agent/availability", lambda p: p == b"offline")
