"""`python -m energy_agent` runs the CLI."""

from energy_agent.cli import main

main()
