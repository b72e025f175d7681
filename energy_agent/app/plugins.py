"""Plugin loading: built-in plugins and entry points of the group `energy_agent`, with a filter by env var.

`ENERGY_AGENT_PLUGINS` limits loading to a comma-separated list of plugin names (empty string: none
but the built-ins); `ENERGY_AGENT_DISABLE_PLUGINS` lists names to skip.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import pluggy
from pydantic import BaseModel

from energy_agent.api import hooks as hookspecs
from energy_agent.api.devices import DeviceType
from energy_agent.api.errors import PluginError
from energy_agent.api.homeassistant import AppOptions
from energy_agent.api.planning import StandalonePolicy
from energy_agent.api.prices import PriceSourceType

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "energy_agent"
BUILTIN_PLUGINS = ("energy_agent.prices.sources", "energy_agent.standalone.plugin")
ONLY_ENV = "ENERGY_AGENT_PLUGINS"
DISABLE_ENV = "ENERGY_AGENT_DISABLE_PLUGINS"


def _names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def get_plugin_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
    """Build a plugin manager with the built-ins and the installed plugins the environment allows."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for module_name in BUILTIN_PLUGINS:
        module = importlib.import_module(module_name)
        pm.register(module, name=module_name)
    if load_entry_points:
        only = _names(os.environ.get(ONLY_ENV))
        disabled = _names(os.environ.get(DISABLE_ENV)) or set()
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if (only is not None and entry_point.name not in only) or entry_point.name in disabled:
                log.info("plugin %s not loaded (%s/%s)", entry_point.name, ONLY_ENV, DISABLE_ENV)
                continue
            try:
                # pluggy's own loader records the distribution, so `energy-agent plugins` can show versions.
                pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=entry_point.name)
            except Exception as exc:  # a broken plugin must say which one broke
                raise PluginError(f"plugin {entry_point.name!r} ({entry_point.value}) failed to load: {exc}") from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin implements an unknown hook: {exc}") from exc
    return pm


@dataclass
class Registry:
    """Everything the loaded plugins registered, keyed by name."""

    device_types: dict[str, DeviceType] = field(default_factory=dict)
    policies: dict[str, StandalonePolicy] = field(default_factory=dict)
    price_sources: dict[str, PriceSourceType] = field(default_factory=dict)
    config_sections: dict[str, type[BaseModel]] = field(default_factory=dict)
    app_options: dict[str, AppOptions] = field(default_factory=dict)
    """How the Home Assistant app's options build each plugin's section, by section name."""

    @property
    def all_sections(self) -> dict[str, type[BaseModel]]:
        """Config sections of device types and of other plugins."""
        sections = {t.config_section: t.config_model for t in self.device_types.values()}
        sections.update(self.config_sections)
        return sections


T = TypeVar("T")


def _adder(kind: str, target: dict[str, T], name_of: Callable[[T], str]) -> Callable[[T], None]:
    def add(item: T) -> None:
        name = name_of(item)
        if name in target:
            raise PluginError(f"two plugins register the {kind} {name!r}")
        target[name] = item

    return add


def collect(pm: pluggy.PluginManager) -> Registry:
    """Call every register_* hook and gather the results; a duplicate name is a PluginError."""
    registry = Registry()
    pm.hook.register_device_types(register=_adder("device type", registry.device_types, lambda t: t.name))
    pm.hook.register_standalone_policies(register=_adder("policy", registry.policies, lambda p: p.name))
    pm.hook.register_price_sources(register=_adder("price source", registry.price_sources, lambda s: s.name))
    sections: dict[str, tuple[str, type[BaseModel]]] = {}
    add_section = _adder("config section", sections, lambda pair: pair[0])
    pm.hook.register_config_sections(register=lambda name, model: add_section((name, model)))
    registry.config_sections.update({name: model for name, (_, model) in sections.items()})
    pm.hook.register_app_options(
        register=_adder("app options for the section", registry.app_options, lambda o: o.section)
    )
    return registry


@dataclass(frozen=True)
class PluginInfo:
    """What `energy-agent plugins` shows of one plugin."""

    name: str
    version: str | None
    hooks: list[str]


def describe(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """The loaded plugins with their distribution versions and implemented hooks."""
    dists = pm.list_plugin_distinfo()
    infos = []
    for name, plugin in pm.list_name_plugin():
        dist = next((d for p, d in dists if p is plugin), None)
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        infos.append(PluginInfo(name=name, version=dist.version if dist else None, hooks=hooks))
    return infos
