"""The shape of a Home Assistant entity description and its value templates (`entities.py` holds the entities)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Platform(StrEnum):
    """The Home Assistant MQTT platforms the agent uses."""

    SENSOR = "sensor"
    BINARY_SENSOR = "binary_sensor"
    SELECT = "select"
    NUMBER = "number"
    SWITCH = "switch"
    TEXT = "text"
    BUTTON = "button"


class Category(StrEnum):
    """Home Assistant entity categories (an entity without one is a primary entity)."""

    CONFIG = "config"
    DIAGNOSTIC = "diagnostic"


@dataclass(frozen=True, slots=True)
class NumberRange:
    """Bounds of a number control, the same as the config model's."""

    min_value: float
    max_value: float
    step: float


@dataclass(frozen=True, slots=True)
class EntityDescription:
    """One entity: what it shows, where it reads it, and (for controls) which setting it changes."""

    key: str
    """Component id inside its device, part of `unique_id`: `[a-z0-9_]`."""
    platform: Platform
    name: str
    """Entity name; Home Assistant shows it after the device name."""
    field: str
    """The JSON field of the state topic that the value template reads."""
    value_template: str
    description: str
    """One line for the documentation table."""
    device_class: str | None = None
    state_class: str | None = None
    unit: str | None = None
    category: Category | None = None
    options: tuple[str, ...] = ()
    """The values of an enum sensor or a select."""
    icon: str | None = None
    setting: str | None = None
    """Controls only: the agent setting the command changes (`operation_mode`, `price_threshold`, …)."""
    number: NumberRange | None = None
    agent_topic: str | None = None
    """Read from the agent's own topic `{hems_prefix}/agent/{agent_topic}` instead of the node's state topic; its
    JSON also gives the entity's attributes."""
    pattern: str | None = None
    """Text controls only: the regular expression Home Assistant checks before it sends a value."""


def value_of(field: str) -> str:
    return "{{ value_json." + field + " }}"


def flag_of(field: str) -> str:
    return "{{ 'ON' if value_json." + field + " else 'OFF' }}"


def text_of(field: str, max_chars: int = 255) -> str:
    # Home Assistant refuses a state longer than 255 characters; "None" shows as unknown.
    return f"{{{{ value_json.{field}[:{max_chars}] if value_json.{field} else None }}}}"


def entity_table(descriptions: tuple[EntityDescription, ...]) -> str:
    """A Markdown table of `descriptions`, as docs/home-assistant.md shows it."""
    lines = [
        "| key | platform | name | reads | class | unit | category | what it shows |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for desc in descriptions:
        classes = " / ".join(c for c in (desc.device_class, desc.state_class) if c) or "-"
        shown = desc.description
        if desc.options:
            shown += " Values: " + ", ".join(f"`{option}`" for option in desc.options) + "."
        lines.append(
            f"| `{desc.key}` | {desc.platform.value} | {desc.name} | `{desc.field}` | {classes} | "
            f"{desc.unit or '-'} | {desc.category.value if desc.category else '-'} | {shown} |"
        )
    return "\n".join(lines) + "\n"
