"""The composition root: the one place that builds an agent from settings and the plugins' registrations."""

from __future__ import annotations

from energy_agent.api.clock import Clock
from energy_agent.app.plugins import Registry
from energy_agent.config import CoreSettings
from energy_agent.runtime.agent import Agent


def build_agent(settings: CoreSettings, registry: Registry, *, clock: Clock | None = None) -> Agent:
    """An agent for `settings`, with every part it needs; `await agent.run(stop)` runs it."""
    return Agent(settings, registry, clock=clock)
