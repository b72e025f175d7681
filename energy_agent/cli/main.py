"""The `energy-agent` command line. Kept thin: each command calls into the module that does the work.

No `from __future__ import annotations` here: typer reads the annotations of nested command functions.
"""

import asyncio
import json
import os
from pathlib import Path
from typing import Annotated, Any

import pluggy
import typer
import yaml

from energy_agent import __version__
from energy_agent.api.errors import ConfigError, EnergyAgentError
from energy_agent.app.plugins import Registry, collect, describe, get_plugin_manager
from energy_agent.cli.common import ConfigOption, fail, load_config
from energy_agent.cli.contracts import add_contracts_commands
from energy_agent.cli.hems import add_hems_commands
from energy_agent.cli.logs import setup_logging
from energy_agent.cli.plan import add_plan_command
from energy_agent.cli.prices import add_prices_command
from energy_agent.config import CoreSettings, load_settings


def load_ha_options(path: Path, registry: Registry) -> CoreSettings:
    """Settings from the Home Assistant app's options file, or a clean exit 2 with one line per problem."""
    from energy_agent.homeassistant.options import config_from_ha_options, read_ha_options

    try:
        document = config_from_ha_options(read_ha_options(path), os.environ, registry.app_options.values())
        return load_settings(registry, data=document)
    except ConfigError as exc:
        fail(exc.problems)


def build_app(pm: pluggy.PluginManager) -> typer.Typer:
    """The CLI with the core's commands and every plugin's."""
    app = typer.Typer(
        help="A plugin-based home energy agent.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    registry = collect(pm)

    def version_callback(value: bool) -> None:
        if value:
            typer.echo(f"energy-agent {__version__}")
            raise typer.Exit()

    @app.callback()
    def root(
        version: Annotated[
            bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Print the version.")
        ] = False,
    ) -> None:
        """A plugin-based home energy agent."""

    @app.command()
    def run(
        config: ConfigOption = None,
        log_level: Annotated[str, typer.Option(envvar="ENERGY_AGENT_LOG_LEVEL", help="debug|info|warning")] = "info",
        ha_options: Annotated[
            Path | None,
            typer.Option(
                "--ha-options", help="The Home Assistant app's options.json, instead of --config.", show_default=False
            ),
        ] = None,
    ) -> None:
        """Run the agent until SIGTERM or SIGINT."""
        from energy_agent.app.run import run_agent

        masker = setup_logging(log_level)
        if ha_options is not None and config is not None:
            fail(["give either --config or --ha-options, not both"])
        settings = load_config(config, registry) if ha_options is None else load_ha_options(ha_options, registry)
        masker.add_settings(settings)  # from here on, no log line shows a configured secret
        try:
            asyncio.run(run_agent(settings, registry))
        except ConfigError as exc:
            fail(exc.problems)
        except EnergyAgentError as exc:
            fail([str(exc)], code=1)

    @app.command("check-config")
    def check_config(config: ConfigOption = None) -> None:
        """Validate the config and print the effective settings (secrets masked)."""
        settings = load_config(config, registry)
        typer.echo(yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False), nl=False)

    @app.command()
    def plugins(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
        """List loaded plugins, their versions and hooks, and what they register."""
        data: dict[str, Any] = {
            "plugins": [info.__dict__ for info in describe(pm)],
            "device_types": {n: {"config_section": t.config_section} for n, t in registry.device_types.items()},
            "standalone_policies": sorted(registry.policies),
            "price_sources": sorted(registry.price_sources),
            "config_sections": sorted(registry.all_sections),
        }
        if as_json:
            typer.echo(json.dumps(data, indent=2))
            return
        for info in data["plugins"]:
            typer.echo(f"{info['name']} {info['version'] or '(built-in)'}: {', '.join(info['hooks']) or 'no hooks'}")
        for key in ("device_types", "standalone_policies", "price_sources", "config_sections"):
            typer.echo(f"{key.replace('_', ' ')}: {', '.join(data[key]) or 'none'}")

    add_plan_command(app, registry)
    add_prices_command(app, registry)
    add_contracts_commands(app)
    add_hems_commands(app, registry)
    pm.hook.register_commands(cli=app)
    return app


def main() -> None:
    """Entry point of the `energy-agent` script."""
    try:
        pm = get_plugin_manager()
    except EnergyAgentError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    build_app(pm)()
