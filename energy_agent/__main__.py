"""`python -m energy_agent` runs the CLI."""

from energy_agent.cli.main import main

main()
