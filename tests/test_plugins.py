"""Plugin loading through real entry points (a distribution written to a temporary path)."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from energy_agent.api.errors import PluginError
from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.cli.main import build_app


def install_fake_distribution(root: Path, name: str, module_source: str) -> None:
    """Write a module plus a `.dist-info` with an `energy_agent` entry point, as pip would."""
    module = f"{name}_plugin"
    (root / f"{module}.py").write_text(textwrap.dedent(module_source))
    dist = root / f"{name}-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(f"[energy_agent]\n{name} = {module}\n")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for mod in [m for m in sys.modules if m.endswith("_plugin") and m.startswith("ea")]:
            del sys.modules[mod]
        importlib.invalidate_caches()


GOOD = """
    from pydantic import BaseModel
    from energy_agent.api.devices import DeviceType
    from energy_agent.api.hooks import hookimpl

    class Section(BaseModel):
        pass

    @hookimpl
    def register_device_types(register):
        register(DeviceType(name="heater", config_section="heater", config_model=Section, create=lambda c, x: []))
"""


def test_entry_point_plugin_is_loaded_and_registers(site: Path) -> None:
    install_fake_distribution(site, "eagood", GOOD)
    pm = get_plugin_manager()
    assert pm.get_plugin("eagood") is not None
    registry = collect(pm)
    assert "heater" in registry.device_types
    assert registry.all_sections["heater"].__name__ == "Section"
    result = CliRunner().invoke(build_app(pm), ["plugins", "--json"])
    data = json.loads(result.output)
    entry = next(p for p in data["plugins"] if p["name"] == "eagood")
    assert entry == {"name": "eagood", "version": "1.2.3", "hooks": ["register_device_types"]}
    assert "chargeamps" in [p["name"] for p in data["plugins"]]


def test_misspelled_hook_fails_loudly(site: Path) -> None:
    install_fake_distribution(
        site,
        "eatypo",
        """
        from energy_agent.api.hooks import hookimpl

        @hookimpl
        def register_device_type(register):
            pass
        """,
    )
    with pytest.raises(PluginError, match=r"unknown hook.*register_device_type"):
        get_plugin_manager()


def test_broken_plugin_names_itself(site: Path) -> None:
    install_fake_distribution(site, "eabroken", "raise ImportError('missing dependency foo')\n")
    with pytest.raises(PluginError, match=r"plugin 'eabroken'.*missing dependency foo"):
        get_plugin_manager()


def test_environment_limits_and_disables_plugins(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_distribution(site, "eagood", GOOD)
    monkeypatch.setenv("ENERGY_AGENT_PLUGINS", "chargeamps")
    assert get_plugin_manager().get_plugin("eagood") is None
    assert get_plugin_manager().get_plugin("chargeamps") is not None
    monkeypatch.delenv("ENERGY_AGENT_PLUGINS")
    monkeypatch.setenv("ENERGY_AGENT_DISABLE_PLUGINS", "eagood, chargeamps")
    pm = get_plugin_manager()
    assert pm.get_plugin("eagood") is None and pm.get_plugin("chargeamps") is None
    # built-ins always load: they are the core's own features
    assert "file" in collect(pm).price_sources


def test_two_plugins_registering_one_name_is_an_error(site: Path) -> None:
    install_fake_distribution(site, "eagood", GOOD)
    install_fake_distribution(site, "eagood2", GOOD)
    with pytest.raises(PluginError, match="two plugins register the device type 'heater'"):
        collect(get_plugin_manager())


def test_no_manager_is_built_at_import() -> None:
    import energy_agent.app.plugins as plugins

    assert not any(isinstance(v, __import__("pluggy").PluginManager) for v in vars(plugins).values())


def test_an_extra_config_section_reaches_plugins_through_the_device_context(tmp_path: Path) -> None:
    from pydantic import BaseModel, ConfigDict

    from energy_agent.app.compose import build_agent
    from energy_agent.config import load_settings

    class Tariff(BaseModel):
        model_config = ConfigDict(extra="forbid")
        night_rate_eur_kwh: float

    pm = get_plugin_manager(load_entry_points=False)
    registry = collect(pm)
    registry.config_sections["tariff"] = Tariff
    settings = load_settings(
        registry, data={"state_dir": str(tmp_path), "tariff": {"night_rate_eur_kwh": 0.12}}, environ=False
    )
    agent = build_agent(settings, registry)
    assert agent.context.sections["tariff"] == Tariff(night_rate_eur_kwh=0.12)
