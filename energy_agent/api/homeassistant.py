"""What a plugin brings to the Home Assistant app: how some of the app's options become its config section.

The app (home-assistant/energy-agent) takes its options in the Supervisor's `options.json`; the core maps its
own (the mode, the cap, the broker, …) and hands each plugin's options to the `AppOptions` it registered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


def option_value(options: Mapping[str, Any], key: str) -> Any:
    """An option's value; None when it is absent, null or an empty string (how the app leaves options unset)."""
    value = options.get(key)
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


@dataclass(frozen=True)
class AppOptions:
    """How some of the app's options become one config section of a plugin."""

    section: str
    """The config section built, e.g. `chargeamps`."""
    options: tuple[str, ...]
    """The option names read (the app's schema offers them; any other option is refused as unknown)."""
    build: Callable[[Mapping[str, Any], list[str]], dict[str, Any]]
    """Build the section from all the options; append one `option NAME: problem` line per fault to the list."""
