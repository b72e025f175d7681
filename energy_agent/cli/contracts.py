"""`energy-agent contracts list|show|validate`: the published HEMS contract, for HEMS developers.

No `from __future__ import annotations`: typer reads the annotations of the nested command functions.
"""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from energy_agent.cli.common import fail
from energy_agent.hems import contracts

SchemaName = Annotated[str, typer.Argument(help="A name from `contracts list`.")]


def add_contracts_commands(app: typer.Typer) -> None:
    """Add the `contracts` group to the CLI."""
    group = typer.Typer(help="The published HEMS contract: list, show and validate payloads.")
    app.add_typer(group, name="contracts")

    @group.command("list")
    def contracts_list() -> None:
        """List the contract's JSON Schemas by name."""
        for name in contracts.list_contracts():
            typer.echo(name)

    @group.command("show")
    def contracts_show(name: SchemaName) -> None:
        """Print one JSON Schema."""
        try:
            typer.echo(json.dumps(contracts.load_schema(name), indent=2))
        except KeyError:
            fail(f"no contract named {name!r}; see `energy-agent contracts list`")

    @group.command("validate")
    def contracts_validate(
        name: SchemaName,
        file: Annotated[Path, typer.Argument(help="JSON file to check ('-' for standard input).")],
    ) -> None:
        """Check a payload against a schema; prints each fault with its JSON path, exit 1 when invalid."""
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        try:
            instance = json.loads(text)
        except json.JSONDecodeError as exc:
            fail(f"{file}: not JSON (line {exc.lineno}: {exc.msg})", code=1)
        try:
            problems = contracts.validate(name, instance)
        except KeyError:
            fail(f"no contract named {name!r}; see `energy-agent contracts list`")
        for problem in problems:
            typer.echo(f"{problem.path}: {problem.message}")
        if problems:
            raise typer.Exit(1)
        typer.echo(f"{file}: valid {name}")
