"""What the CLI's commands share: failing with one line per problem, reading the config, naming the broker."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from energy_agent.api.errors import ConfigError
from energy_agent.app.plugins import Registry
from energy_agent.config import CoreSettings, MqttSettings, load_settings

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file (default: $ENERGY_AGENT_CONFIG).", show_default=False),
]
"""The `--config` of the commands that run on the agent's config (run, check-config, prices)."""

EXIT_CONFIG = 2


def fail(problems: list[str] | str, *, code: int = EXIT_CONFIG) -> NoReturn:
    """Print `error: …` per problem to stderr and exit with `code`."""
    for problem in [problems] if isinstance(problems, str) else problems:
        typer.echo(f"error: {problem}", err=True)
    raise typer.Exit(code)


def load_config(config: Path | None, registry: Registry) -> CoreSettings:
    """The settings of `config` (or of $ENERGY_AGENT_CONFIG), or a clean exit 2 with one line per problem."""
    try:
        return load_settings(registry, config)
    except ConfigError as exc:
        fail(exc.problems)


def optional_config(config: Path | None, registry: Registry) -> CoreSettings | None:
    """The settings when a config file is given, else None (tools that work without one)."""
    return None if config is None else load_config(config, registry)


def broker_settings(settings: CoreSettings | None, broker: str | None) -> MqttSettings:
    """The broker to use: `--broker HOST:PORT` over the config's, over the defaults."""
    mqtt = settings.mqtt if settings is not None else MqttSettings()
    if broker:
        host, _, port = broker.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            fail(f"--broker {broker!r}: expected HOST:PORT")
        mqtt = mqtt.model_copy(update={"host": host, "port": int(port)})
    return mqtt
