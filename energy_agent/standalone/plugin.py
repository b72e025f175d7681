"""The core's own standalone policies, registered through the same hook third-party plugins use."""

from __future__ import annotations

from collections.abc import Callable

from energy_agent.api.hooks import hookimpl
from energy_agent.api.planning import StandalonePolicy
from energy_agent.standalone import ready_by, unique_levels


@hookimpl
def register_standalone_policies(register: Callable[[StandalonePolicy], None]) -> None:
    """The default policy (every slot of the X lowest unique price levels under the cap) and `ready-by`."""
    register(unique_levels.POLICY)
    register(ready_by.POLICY)
