"""The composition root: loads the plugins, builds the agent's parts, wires them, and runs the process."""
