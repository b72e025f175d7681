"""The HTTP endpoint for health checks and metrics: `GET /healthz`, `/status` and `/metrics` (aiohttp).

It binds `health.host` (loopback unless configured otherwise), only reads the running agent, and never shows a
secret: device errors are DeviceError messages (safe by contract), broker errors are the broker's words, and
every configured secret is masked in each answer all the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, SecretStr

from energy_agent import __version__
from energy_agent.api.metrics import CONTENT_TYPE, Exposition
from energy_agent.hems.contracts import CONTRACT_VERSION
from energy_agent.runtime.device import status_payload

if TYPE_CHECKING:
    from energy_agent.runtime.agent import Agent

_MASK = "***"
_MIN_MASKED_IN_TEXT = 4


class HealthServer:
    """Serves `/healthz`, `/status` and `/metrics` for one agent; `start` then, at shutdown, `stop`."""

    def __init__(self, agent: Agent, *, port: int | None = None) -> None:
        """Serve `agent`'s health on `health.host` and `port` (default `health.port`; 0 picks a free port)."""
        self.agent = agent
        self._port = agent.settings.health.port if port is None else port
        self._runner: web.AppRunner | None = None
        self._secrets = sorted(_secrets(agent.settings), key=len, reverse=True)
        self.port: int | None = None
        """The bound port while serving."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/status", self._status)
        app.router.add_get("/metrics", self._metrics)
        self.app = app

    async def start(self) -> int:
        """Listen on `health.host` and the port (0: any free port); return the bound port. OSError if it is taken."""
        if self._runner is not None:
            raise RuntimeError("the health server is running already")
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.agent.settings.health.host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self.port

    async def stop(self) -> None:
        """Stop listening (a no-op when not started)."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            self.port = None
            await runner.cleanup()

    # -- handlers ----------------------------------------------------------------------------------
    async def _healthz(self, request: web.Request) -> web.Response:
        reasons = health_reasons(self.agent)
        body = {"ok": not reasons, "reasons": reasons}
        return self._json(body, status=200 if not reasons else 503)

    async def _status(self, request: web.Request) -> web.Response:
        return self._json(status_document(self.agent))

    async def _metrics(self, request: web.Request) -> web.Response:
        text = metrics_text(self.agent)
        for secret in self._secrets:
            if len(secret) >= _MIN_MASKED_IN_TEXT:  # labels hold names and ids, never free text
                text = text.replace(secret, _MASK)
        return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})

    def _json(self, body: dict[str, Any], *, status: int = 200) -> web.Response:
        text = json.dumps(self._mask(body), indent=2)
        return web.Response(text=text, status=status, content_type="application/json")

    def _mask(self, value: Any) -> Any:
        """`value` with every configured secret masked in its strings (keys and structure untouched)."""
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, _MASK)
            return value
        if isinstance(value, dict):
            return {key: self._mask(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._mask(item) for item in value]
        return value


def health_reasons(agent: Agent) -> list[str]:
    """Why the agent is not healthy; empty when the broker is connected and every device was read."""
    reasons: list[str] = []
    bus = agent.bus
    if not bus.connected:
        where = f"{bus.settings.host}:{bus.settings.port}"
        why = f" ({bus.last_error})" if bus.last_error else ""
        reasons.append(f"mqtt: not connected to the broker {where}{why}")
    running = {runtime.device.device_type for runtime in agent.runtimes.values()}
    for device_type in agent.registry.device_types.values():
        if agent.settings.section(device_type.config_section) is not None and device_type.name not in running:
            reasons.append(f"{device_type.name}: no device running yet (it could not be reached at start)")
    for key, runtime in sorted(agent.runtimes.items()):
        if runtime.status_error is not None:
            reasons.append(f"{key}: unreachable: {runtime.status_error}")
        elif runtime.status is None:
            reasons.append(f"{key}: status not read yet")
    return reasons


def status_document(agent: Agent) -> dict[str, Any]:
    """The agent-wide fields plus every device's contract status payload, keyed `{device_type}/{topic_id}`."""
    return {
        "version": __version__,
        "contract_version": CONTRACT_VERSION,
        "operation_mode": agent.mode.value,
        "mqtt_connected": agent.bus.connected,
        "mqtt_reconnects": agent.bus.reconnects,
        "mqtt_last_error": agent.bus.last_error,
        "hems_connected": agent.hems.hems_connected,
        "state_error": agent.store.last_error,
        "devices": {
            key: status_payload(runtime, agent.agent_status_fields()) for key, runtime in sorted(agent.runtimes.items())
        },
    }


def metrics_text(agent: Agent) -> str:
    """Every metric of the agent in the Prometheus text format."""
    out = Exposition()
    runtimes = sorted(agent.runtimes.items())
    out.metric("energy_agent_up", "gauge", "1 while the agent process serves this endpoint.", 1)
    out.family(
        "energy_agent_info",
        "gauge",
        "The agent's version and operation mode (always 1).",
        [({"version": __version__, "operation_mode": agent.mode.value}, 1)],
    )
    out.metric("energy_agent_mqtt_connected", "gauge", "1 while the MQTT broker connection is up.", agent.bus.connected)
    out.metric(
        "energy_agent_mqtt_reconnects_total", "counter", "Broker connections lost and re-made.", agent.bus.reconnects
    )
    out.metric(
        "energy_agent_hems_connected", "gauge", "1 while the HEMS counts as connected.", agent.hems.hems_connected
    )
    out.family(
        "energy_agent_hems_commands_total",
        "counter",
        "HEMS schedule commands answered, by result.",
        [
            ({"result": "accepted"}, agent.hems.commands_accepted),
            ({"result": "refused"}, agent.hems.commands_refused),
        ],
    )
    out.family(
        "energy_agent_device_reachable",
        "gauge",
        "1 when the device's last status read succeeded.",
        [({"device": key}, runtime.status is not None and runtime.status_error is None) for key, runtime in runtimes],
    )
    out.family(
        "energy_agent_device_writes_total",
        "counter",
        "Schedules written to (or cleared on) the device.",
        [({"device": key}, runtime.device_writes) for key, runtime in runtimes],
    )
    out.metric(
        "energy_agent_state_write_ok",
        "gauge",
        "0 while the state file cannot be written.",
        agent.store.last_error is None,
    )
    agent.context.metrics.expose(out)
    return out.text()


def _secrets(value: Any) -> Iterator[str]:
    """Every secret value in the settings (SecretStr fields at any depth)."""
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        if secret:
            yield secret
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secrets(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secrets(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secrets(item)
