"""The core's own standalone policies, registered through the same hook third-party plugins use."""

from __future__ import annotations

from collections.abc import Callable

from energy_agent.api.hooks import hookimpl
from energy_agent.api.planning import StandalonePolicy
from energy_agent.standalone.unique_levels import POLICY


@hookimpl
def register_standalone_policies(register: Callable[[StandalonePolicy], None]) -> None:
    """Charge at every slot of the X lowest unique price levels under the cap (the default policy)."""
    register(POLICY)
