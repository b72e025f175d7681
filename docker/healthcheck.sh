#!/bin/sh
# Container health, for now: the agent process is alive and its retained availability topic says
# `online`. When the agent grows an HTTP health endpoint, this script is swapped for a request to it.
#   ENERGY_AGENT_PID     the agent's process id (default 1, the container's entrypoint)
#   ENERGY_AGENT_CONFIG  the config file (default /config/energy-agent.yaml), for the broker settings
set -eu

pid="${ENERGY_AGENT_PID:-1}"
if ! kill -0 "$pid" 2>/dev/null || ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -Eq 'energy[-_]agent'; then
    echo "unhealthy: no energy-agent process with pid $pid" >&2
    exit 1
fi

exec "${PYTHON:-python}" - <<'PY'
import asyncio
import os
import ssl
import sys
from pathlib import Path

import aiomqtt

from energy_agent.config import load_settings
from energy_agent.plugins import collect, get_plugin_manager
from energy_agent.topics import Topics


async def availability() -> str:
    path = Path(os.environ.get("ENERGY_AGENT_CONFIG", "/config/energy-agent.yaml"))
    mqtt = load_settings(collect(get_plugin_manager()), path).mqtt
    tls = ssl.create_default_context(cafile=str(mqtt.ca_file) if mqtt.ca_file else None) if mqtt.tls else None
    password = mqtt.password.get_secret_value() if mqtt.password else None
    topic = Topics(mqtt.hems_prefix).agent_availability
    async with aiomqtt.Client(
        mqtt.host, mqtt.port, username=mqtt.username, password=password, tls_context=tls, timeout=5
    ) as client:
        await client.subscribe(topic, qos=1)
        async with asyncio.timeout(5):
            async for message in client.messages:
                payload = message.payload
                return payload.decode(errors="replace") if isinstance(payload, bytes) else str(payload)
    return "nothing"


try:
    state = asyncio.run(availability())
except Exception as exc:  # any failure is an unhealthy answer, said in one line
    print(f"unhealthy: availability unknown: {type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(1)
if state != "online":
    print(f"unhealthy: availability is {state}", file=sys.stderr)
    sys.exit(1)
print("healthy")
PY
