"""HTTP served by the agent: the health endpoint and the owner's web page."""
