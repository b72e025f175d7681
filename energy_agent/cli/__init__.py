"""The `energy-agent` command line."""
