"""The page's controls: what each one is, how its value is checked for form, and which ones the agent takes.

A control is one line of `CONTROLS`. The page draws a form for each group of controls the agent accepts at run
time (the mode, and the standalone settings `ModeControl` lets change), so a setting the agent starts to accept
shows up without touching the page. The form of a value is checked here (a number, a whole number, one of the
choices, HH:MM); its range and how it fits the other settings are checked by the agent against the config model
(`AgentCommands.change_standalone`), so the page, MQTT and Home Assistant can never disagree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from energy_agent.api.domain import OperationMode
from energy_agent.runtime.modes import OVERRIDABLE
from energy_agent.runtime.view import AgentView

Kind = Literal["choice", "number", "whole", "time", "switch"]
MODE = "operation_mode"
HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True, slots=True)
class Control:
    """One input of the page."""

    name: str
    """The setting it changes: `operation_mode` or a key of `standalone:`."""
    label: str
    kind: Kind
    group: str
    """Controls of one group share a form and are sent together."""
    choices: tuple[str, ...] = ()
    unit: str = ""
    nullable: bool = False
    """An empty input sends null (no cap, no departure)."""


CONTROLS = (
    Control(MODE, "Operation mode", "choice", "mode", choices=tuple(m.value for m in OperationMode)),
    Control("price_threshold", "Price cap", "number", "cap", unit="EUR/kWh", nullable=True),
    Control("top_x_charge_count", "Lowest price levels", "whole", "levels"),
    Control("paused", "Standalone paused", "switch", "paused"),
    Control("policy", "Policy", "choice", "ready-by", choices=("unique-price-levels", "ready-by")),
    Control("ready_by", "Departure", "time", "ready-by", nullable=True),
    Control("energy_kwh", "Energy to add", "number", "ready-by", unit="kWh", nullable=True),
    Control("target_soc", "Or charge to", "number", "ready-by", unit="%", nullable=True),
)
"""Every control the page knows, in page order (see the module docstring)."""


def accepted_controls() -> tuple[Control, ...]:
    """The controls the running agent takes: the mode, and the standalone settings it lets change."""
    return tuple(control for control in CONTROLS if control.name == MODE or control.name in OVERRIDABLE)


def control_values(view: AgentView) -> dict[str, Any]:
    """The value in force of every accepted control."""
    standalone = view.standalone
    values: dict[str, Any] = {}
    for control in accepted_controls():
        value = view.mode.value if control.name == MODE else getattr(standalone, control.name)
        values[control.name] = value if isinstance(value, str | int | float | bool | None) else str(value)
    return values


def parse_changes(body: object) -> dict[str, Any]:
    """The changes a request asks for: a JSON object of accepted control names to values of the right form.

    ValueError names every fault, `name: reason`, joined by `; `.
    """
    if not isinstance(body, Mapping) or not body:
        raise ValueError('send a JSON object of settings to change, e.g. {"price_threshold": 0.2}')
    controls = {control.name: control for control in accepted_controls()}
    changes: dict[str, Any] = {}
    faults = []
    for name, value in body.items():
        control = controls.get(name)
        if control is None:
            faults.append(f"{name}: not changeable here (the page changes {', '.join(controls)})")
            continue
        try:
            changes[name] = parse_value(control, value)
        except ValueError as exc:
            faults.append(f"{name}: {exc}")
    if faults:
        raise ValueError("; ".join(faults))
    return changes


def parse_value(control: Control, value: object) -> Any:
    """`value` checked for the control's form (not its range); ValueError says why it is not one."""
    if value is None or value == "":
        if control.nullable:
            return None
        raise ValueError("a value is needed")
    if control.kind == "switch":
        if isinstance(value, bool):
            return value
        raise ValueError(f"{value!r} is not true or false")
    if control.kind == "choice":
        if value in control.choices:
            return value
        raise ValueError(f"{value!r} is not one of {', '.join(control.choices)}")
    if control.kind == "time":
        if isinstance(value, str) and HH_MM.match(value):
            return value
        raise ValueError(f"{value!r} is not a time HH:MM")
    number = _number(value)
    if control.kind == "whole":
        if not number.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        return int(number)
    return number


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a number")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number
