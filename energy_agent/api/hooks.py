"""The hooks a plugin may implement. Each hands the plugin a `register` callback; plugins call it with objects.

Hooks only register things: async work lives on the registered objects. An implementation may accept
fewer arguments than its spec, so hooks can grow without breaking plugins.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy
import typer
from pydantic import BaseModel

from energy_agent.api.devices import DeviceType
from energy_agent.api.homeassistant import AppOptions
from energy_agent.api.planning import StandalonePolicy
from energy_agent.api.prices import PriceSourceType

PROJECT_NAME = "energy_agent"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_device_types(register: Callable[[DeviceType], None]) -> None:
    """Register device types: factories that build devices from their config section."""


@hookspec
def register_standalone_policies(register: Callable[[StandalonePolicy], None]) -> None:
    """Register standalone policies: pure functions that turn prices into a plan."""


@hookspec
def register_price_sources(register: Callable[[PriceSourceType], None]) -> None:
    """Register price sources, selected by `prices.source` in the config."""


@hookspec
def register_config_sections(register: Callable[[str, type[BaseModel]], None]) -> None:
    """Register extra top-level config sections (name, pydantic model); factories read them in `context.sections`."""


@hookspec
def register_commands(cli: typer.Typer) -> None:
    """Add commands or command groups to the `energy-agent` CLI."""


@hookspec
def register_app_options(register: Callable[[AppOptions], None]) -> None:
    """Register how the Home Assistant app's options build a config section (a plugin's own options)."""
