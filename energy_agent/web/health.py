"""The HTTP endpoint for health checks and metrics: `GET /healthz`, `/status` and `/metrics` (aiohttp).

It binds `health.host` (loopback unless configured otherwise), only reads the running agent (`AgentView`), and
never shows a secret: device errors are DeviceError messages (safe by contract), broker errors are the broker's
words, and every configured secret is masked in each answer all the same, in any of its spellings
(`energy_agent.secrets`). `/healthz` answers 503 with one reason per fault: the broker unreachable, a device
not running, unreachable or not read yet, the state file not writable.

The Prometheus text is written by `energy_agent.api.metrics.Exposition` (about 60 lines), not by
`prometheus_client`: importing that library adds about 14 MB to the agent's resident memory (measured), a
quarter of the whole agent's idle budget, for a text format this small.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from aiohttp import web

from energy_agent import __version__
from energy_agent.api.metrics import CONTENT_TYPE, Exposition
from energy_agent.config import CoreSettings
from energy_agent.runtime.view import AgentView
from energy_agent.secrets import SecretMasker, masker_for

log = logging.getLogger(__name__)
_LABEL_VALUE = re.compile(r'="((?:[^"\\\n]|\\.)*)"')
_LABEL_ESCAPE = re.compile(r"\\(.)")


class HealthServer:
    """Serves `/healthz`, `/status` and `/metrics` for one agent; `start` then, at shutdown, `stop`."""

    name = "health endpoint (set health.port or health.enabled)"

    def __init__(self, view: AgentView, settings: CoreSettings, *, port: int | None = None) -> None:
        """Serve the agent's health on `health.host` and `port` (default `health.port`; 0 picks a free port)."""
        self.view = view
        self._host = settings.health.host
        self._port = settings.health.port if port is None else port
        self._runner: web.AppRunner | None = None
        self._masker = masker_for(settings)
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
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("health endpoint on http://%s:%d/healthz", self._host, self.port)
        return self.port

    async def stop(self) -> None:
        """Stop listening (a no-op when not started)."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            self.port = None
            await runner.cleanup()

    # -- handlers ----------------------------------------------------------------------------------
    async def _healthz(self, request: web.Request) -> web.Response:
        reasons = health_reasons(self.view)
        body = {"ok": not reasons, "reasons": reasons, "warnings": health_warnings(self.view, reasons)}
        return self._json(body, status=200 if not reasons else 503)

    async def _status(self, request: web.Request) -> web.Response:
        return self._json(self.view.status_document())

    async def _metrics(self, request: web.Request) -> web.Response:
        text = mask_label_values(metrics_text(self.view), self._masker)
        return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})

    def _json(self, body: dict[str, Any], *, status: int = 200) -> web.Response:
        text = json.dumps(self._masker.mask_json(body), indent=2)
        return web.Response(text=text, status=status, content_type="application/json")


def health_reasons(view: AgentView) -> list[str]:
    """Why the agent is not healthy; empty when the broker is connected, every device was read and the last
    write of the state file succeeded.

    Prices count only while standalone planning is in force and no price covers now (the agent cannot plan at
    all); a failed fetch while the last good prices still cover now is a warning (`health_warnings`), so that a
    passing outage of the price service does not get the container restarted.
    """
    reasons: list[str] = []
    mqtt = view.mqtt
    if not mqtt.connected:
        why = f" ({mqtt.last_error})" if mqtt.last_error else ""
        reasons.append(f"mqtt: not connected to the broker {mqtt.where}{why}")
    for name in view.pending_device_types():
        reasons.append(f"{name}: no device running yet (it could not be reached at start)")
    for device in view.devices():
        if device.status_error is not None:
            reasons.append(f"{device.key}: unreachable: {device.status_error}")
        elif not device.status_read:
            reasons.append(f"{device.key}: status not read yet")
    prices = view.price_report
    if view.standalone_in_force and prices.state == "stale" and not prices.covers_now:
        reasons.extend(prices.warnings)
    if view.state_error is not None:
        reasons.append(f"state: {view.state_error}")
    return reasons


def health_warnings(view: AgentView, reasons: list[str]) -> list[str]:
    """What is wrong without making the agent unhealthy: the price source's warnings not among `reasons`, and
    each device read back holding something other than the schedule in force (with its drift counts)."""
    warnings = [warning for warning in view.price_report.warnings if warning not in reasons]
    for device in view.devices():
        if device.in_sync is False and device.drifts_found:  # a first start's difference is no drift
            warnings.append(
                f"{device.key}: holds something other than the schedule in force "
                f"({device.drifts_found} drift(s) found since start, {device.drifts_repaired} repaired)"
            )
    return warnings


def metrics_text(view: AgentView) -> str:
    """Every metric of the agent in the Prometheus text format."""
    out = Exposition()
    devices = view.devices()
    mqtt = view.mqtt
    answered = view.commands_answered
    out.metric("energy_agent_up", "gauge", "1 while the agent process serves this endpoint.", 1)
    out.family(
        "energy_agent_info",
        "gauge",
        "The agent's version and operation mode (always 1).",
        [({"version": __version__, "operation_mode": view.mode.value}, 1)],
    )
    out.metric("energy_agent_mqtt_connected", "gauge", "1 while the MQTT broker connection is up.", mqtt.connected)
    out.metric("energy_agent_mqtt_reconnects_total", "counter", "Broker connections lost and re-made.", mqtt.reconnects)
    out.metric("energy_agent_hems_connected", "gauge", "1 while the HEMS counts as connected.", view.hems_connected)
    out.family(
        "energy_agent_hems_commands_total",
        "counter",
        "HEMS schedule commands answered, by result.",
        [({"result": result}, count) for result, count in answered.items()],
    )
    out.family(
        "energy_agent_device_reachable",
        "gauge",
        "1 when the device's last status read succeeded.",
        [({"device": device.key}, device.reachable) for device in devices],
    )
    out.family(
        "energy_agent_device_writes_total",
        "counter",
        "Schedules written to (or cleared on) the device.",
        [({"device": device.key}, device.device_writes) for device in devices],
    )
    out.family(
        "energy_agent_device_drifts_total",
        "counter",
        "Read-backs that found the device holding something other than the schedule in force, and repairs.",
        [({"device": d.key, "outcome": "found"}, d.drifts_found) for d in devices]
        + [({"device": d.key, "outcome": "repaired"}, d.drifts_repaired) for d in devices],
    )
    out.family(
        "energy_agent_device_in_sync",
        "gauge",
        "1 when the last read-back matched the schedule in force (devices that can be read back).",
        [({"device": d.key}, d.in_sync) for d in devices if d.in_sync is not None],
    )
    out.metric("energy_agent_state_write_ok", "gauge", "0 while the state file cannot be written.",
               view.state_error is None)  # fmt: skip
    view.metrics.expose(out)
    return out.text()


def mask_label_values(text: str, masker: SecretMasker) -> str:
    """The Prometheus text with secrets masked in its label values only (names and numbers stay intact, even
    for a one-letter secret); each value is unescaped, masked and escaped again."""
    if not masker:
        return text

    def masked(match: re.Match[str]) -> str:
        raw = _LABEL_ESCAPE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), match.group(1))
        clean = masker.mask(raw)
        if clean == raw:
            return match.group(0)
        return '="' + clean.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    return _LABEL_VALUE.sub(masked, text)
