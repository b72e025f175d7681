"""HTTP served by the agent: the health endpoint."""
