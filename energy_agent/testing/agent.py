"""A whole agent in the test's process: built from a config document exactly as `energy-agent run` builds it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pluggy
import typer

from energy_agent.api.clock import Clock
from energy_agent.api.homeassistant import AppOptions
from energy_agent.app.compose import build_agent
from energy_agent.app.plugins import Registry, collect, get_plugin_manager
from energy_agent.config import CoreSettings, MqttSettings, load_settings
from energy_agent.hems import contracts
from energy_agent.homeassistant.options import config_from_ha_options
from energy_agent.mqtt.request import send_command
from energy_agent.runtime.agent import Agent
from energy_agent.runtime.view import AgentView
from energy_agent.web.server import WebServer

START_TIMEOUT_S = 10.0


def _plugin_manager(plugins: tuple[object, ...], entry_points: bool) -> pluggy.PluginManager:
    pm = get_plugin_manager(load_entry_points=entry_points)
    for plugin in plugins:
        pm.register(plugin, name=getattr(plugin, "__name__", None))
    return pm


def cli_app(*plugins: object, entry_points: bool = False) -> typer.Typer:
    """The `energy-agent` command line with the core's built-ins and `plugins` (to run with typer's CliRunner)."""
    from energy_agent.cli.main import build_app

    return build_app(_plugin_manager(plugins, entry_points))


def plugin_registry(*plugins: object, entry_points: bool = False) -> Registry:
    """What the core's built-ins register, plus `plugins` (modules with hook implementations) registered directly.

    With `entry_points`, the installed plugins are loaded too (filtered by `ENERGY_AGENT_PLUGINS` as at run time).
    """
    return collect(_plugin_manager(plugins, entry_points))


def app_options_config(
    options: Mapping[str, Any], environ: Mapping[str, str], mappings: Iterable[AppOptions]
) -> dict[str, Any]:
    """The config document the Home Assistant app's `options` make with these plugin mappings (ConfigError lists
    every fault), as `energy-agent run --ha-options` builds it."""
    return config_from_ha_options(options, environ, mappings)


async def send_hems_command(
    host: str,
    port: int,
    topic: str,
    payload: bytes,
    *,
    answer_topic: str,
    command_id: str | None,
    timeout_s: float = 10.0,
) -> dict[str, Any]:
    """Publish one HEMS command as `energy-agent hems …` does (MQTT 5, or 3.1.1 when the broker refuses 5) and
    return the agent's answer; NoAnswerError (a TimeoutError) when none comes."""
    return await send_command(
        MqttSettings(host=host, port=port), topic, payload, answer_topic=answer_topic, command_id=command_id,
        timeout_s=timeout_s,
    )  # fmt: skip


def contract_problems(name: str, instance: Any) -> list[str]:
    """How `instance` breaks the published contract schema `name` (e.g. `hems/v1/status`), one line each."""
    return [f"{problem.path}: {problem.message}" for problem in contracts.validate(name, instance)]


def load_config(document: Mapping[str, Any], registry: Registry) -> CoreSettings:
    """Validate a config document (what the YAML file holds) as the agent does, without the environment.

    Raises ConfigError with one line per problem.
    """
    return load_settings(registry, data=dict(document), environ=False)


class RunningAgent:
    """A started agent; what a test may ask of it. Stop it with `stop()` (the context manager does)."""

    def __init__(self, agent: Agent) -> None:
        self._agent = agent
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def build(cls, settings: CoreSettings, registry: Registry, *, clock: Clock | None = None) -> RunningAgent:
        """An agent for validated settings, not started yet."""
        return cls(build_agent(settings, registry, clock=clock))

    async def start(self) -> None:
        """Run the agent and wait until its devices are built and the broker is connected."""
        self._task = asyncio.create_task(self._agent.run(self._stop), name="agent under test")
        async with asyncio.timeout(START_TIMEOUT_S):
            started = asyncio.create_task(self._agent.started.wait())
            done, _ = await asyncio.wait({started, self._task}, return_when=asyncio.FIRST_COMPLETED)
            if self._task in done:
                started.cancel()
                await self._task  # raises what stopped the agent
                raise RuntimeError("the agent stopped before it was started")
            await self._agent.bus.wait_connected()

    @property
    def view(self) -> AgentView:
        """What may be read of the running agent: mode, devices and their statuses, health."""
        return self._agent.view

    @property
    def device_keys(self) -> list[str]:
        """The running devices, as `{device_type}/{topic_id}`."""
        return [device.key for device in self.view.devices()]

    def status(self, key: str) -> dict[str, Any]:
        """The contract status payload of one device, as the agent would publish it now."""
        return next(device.status for device in self.view.devices() if device.key == key)

    @property
    def web_url(self) -> str | None:
        """The address of the agent's web page while it serves one (`web.enabled`); None otherwise."""
        return next((s.url for s in self._agent.services if isinstance(s, WebServer) and s.url), None)

    @property
    def operation_mode(self) -> str:
        """The operation mode in force."""
        return self.view.mode.value

    async def stop(self) -> None:
        """Stop the agent the way SIGTERM does: `offline`, devices closed, state saved."""
        if self._task is not None:
            self._stop.set()
            task, self._task = self._task, None
            await task


@asynccontextmanager
async def running_agent(
    document: Mapping[str, Any], *, registry: Registry, clock: Clock | None = None
) -> AsyncIterator[RunningAgent]:
    """Start an agent for `document` with the plugins of `registry`; stop it when the block ends."""
    running = RunningAgent.build(load_config(document, registry), registry, clock=clock)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
