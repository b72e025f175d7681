"""Every Home Assistant entity the agent announces, as data: one frozen description per entity, no class per sensor.

Device entities read the device's retained status topic (`{hems_prefix}/{device_type}/{topic_id}/status`,
the contract's status payload); the agent's controls read the retained settings topic
(`{hems_prefix}/agent/settings`). Each description names the JSON field it reads, so that the table in
docs/home-assistant.md is generated from here (`entity_table`) and checked by a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from energy_agent.api.domain import ChargerState, OperationMode, ScheduleSource
from energy_agent.prices.health import STATES as PRICE_STATES


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


READY_BY_POLICIES = ("unique-price-levels", "ready-by")
ENERGY_RANGE = NumberRange(min_value=0.1, max_value=1000.0, step=0.1)
SOC_RANGE = NumberRange(min_value=1, max_value=100, step=1)
CLOCK_PATTERN = r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$"


def _value(field: str) -> str:
    return "{{ value_json." + field + " }}"


def _flag(field: str) -> str:
    return "{{ 'ON' if value_json." + field + " else 'OFF' }}"


def _text(field: str, max_chars: int = 255) -> str:
    # Home Assistant refuses a state longer than 255 characters; "None" shows as unknown.
    return f"{{{{ value_json.{field}[:{max_chars}] if value_json.{field} else None }}}}"


DEVICE_ENTITIES: tuple[EntityDescription, ...] = (
    EntityDescription(
        key="state",
        platform=Platform.SENSOR,
        name="State",
        field="state",
        value_template=_value("state"),
        description="The connector's state.",
        device_class="enum",
        options=tuple(s.value for s in ChargerState),
        icon="mdi:ev-station",
    ),
    EntityDescription(
        key="schedule_source",
        platform=Platform.SENSOR,
        name="Schedule source",
        field="schedule_source",
        value_template=_value("schedule_source"),
        description="Who decided the schedule in force: the agent (standalone), a HEMS, or nobody.",
        device_class="enum",
        options=tuple(s.value for s in ScheduleSource),
        icon="mdi:source-branch",
    ),
    EntityDescription(
        key="schedule_active",
        platform=Platform.BINARY_SENSOR,
        name="Schedule period running",
        field="schedule_active",
        value_template=_flag("schedule_active"),
        description="On while a period of the schedule in force is running.",
        device_class="running",
    ),
    EntityDescription(
        key="next_period_start",
        platform=Platform.SENSOR,
        name="Next period start",
        field="next_period_start",
        value_template=_value("next_period_start"),
        description="Start of the running or next period; unknown when none is left.",
        device_class="timestamp",
    ),
    EntityDescription(
        key="next_period_end",
        platform=Platform.SENSOR,
        name="Next period end",
        field="next_period_end",
        value_template=_value("next_period_end"),
        description="End of the running or next period; unknown when none is left.",
        device_class="timestamp",
    ),
    EntityDescription(
        key="current_power",
        platform=Platform.SENSOR,
        name="Power",
        field="current_power_kw",
        value_template=_value("current_power_kw"),
        description="Power drawn now.",
        device_class="power",
        state_class="measurement",
        unit="kW",
    ),
    EntityDescription(
        key="session_energy",
        platform=Platform.SENSOR,
        name="Session energy",
        field="session_energy_kwh",
        value_template=_value("session_energy_kwh"),
        description="Energy of the current charging session.",
        device_class="energy",
        state_class="total",
        unit="kWh",
    ),
    EntityDescription(
        key="total_energy",
        platform=Platform.SENSOR,
        name="Total energy",
        field="total_energy_kwh",
        value_template=_value("total_energy_kwh"),
        description="Lifetime energy meter of the device.",
        device_class="energy",
        state_class="total_increasing",
        unit="kWh",
    ),
    EntityDescription(
        key="hems_connected",
        platform=Platform.BINARY_SENSOR,
        name="HEMS connected",
        field="hems_connected",
        value_template=_flag("hems_connected"),
        description="On while the HEMS announces itself online.",
        device_class="connectivity",
    ),
    EntityDescription(
        key="last_hems_command_at",
        platform=Platform.SENSOR,
        name="Last HEMS command",
        field="last_hems_command_at",
        value_template=_value("last_hems_command_at"),
        description="When the last HEMS command (set or clear, accepted or not) arrived.",
        device_class="timestamp",
        icon="mdi:clock-outline",
    ),
    EntityDescription(
        key="price_threshold_active",
        platform=Platform.BINARY_SENSOR,
        name="Price cap active",
        field="price_threshold_active",
        value_template=_flag("price_threshold_active"),
        description="Standalone: on when the price cap excluded at least one otherwise chosen slot.",
        icon="mdi:cash-lock",
    ),
    EntityDescription(
        key="no_eligible_slots",
        platform=Platform.BINARY_SENSOR,
        name="No slot under the price cap",
        field="no_eligible_slots",
        value_template=_flag("no_eligible_slots"),
        description="Standalone: a problem when no slot is at or below the cap, so the device will not run.",
        device_class="problem",
    ),
    EntityDescription(
        key="online",
        platform=Platform.BINARY_SENSOR,
        name="Reachable",
        field="online",
        value_template=_flag("online"),
        description="On while the agent can reach the device.",
        device_class="connectivity",
        category=Category.DIAGNOSTIC,
    ),
    EntityDescription(
        key="last_error",
        platform=Platform.SENSOR,
        name="Last error",
        field="last_error",
        value_template=_text("last_error"),
        description="The last problem the agent met with this device; unknown when there is none.",
        category=Category.DIAGNOSTIC,
        icon="mdi:alert-circle-outline",
    ),
    EntityDescription(
        key="last_command_result",
        platform=Platform.SENSOR,
        name="Last command result",
        field="last_command_result",
        value_template=_value("last_command_result"),
        description="Outcome of the last HEMS command: accepted or refused.",
        device_class="enum",
        options=("accepted", "refused"),
        category=Category.DIAGNOSTIC,
        icon="mdi:check-decagram-outline",
    ),
    EntityDescription(
        key="ready_by",
        platform=Platform.SENSOR,
        name="Ready by",
        field="ready_by",
        value_template=_value("ready_by"),
        description="Policy ready-by: the departure the plan in force is made for; unknown under another policy.",
        device_class="timestamp",
        icon="mdi:car-clock",
    ),
    EntityDescription(
        key="energy_planned",
        platform=Platform.SENSOR,
        name="Energy planned",
        field="energy_planned_kwh",
        value_template=_value("energy_planned_kwh"),
        description="Policy ready-by: the energy the plan delivers by the departure.",
        device_class="energy",
        state_class="total",
        unit="kWh",
    ),
    EntityDescription(
        key="energy_missing",
        platform=Platform.SENSOR,
        name="Energy missing",
        field="energy_missing_kwh",
        value_template=_value("energy_missing_kwh"),
        description="Policy ready-by: the energy needed that no slot under the price cap can hold by the departure.",
        device_class="energy",
        state_class="total",
        unit="kWh",
    ),
    EntityDescription(
        key="energy_shortfall",
        platform=Platform.BINARY_SENSOR,
        name="Energy shortfall",
        field="energy_missing_kwh",
        value_template="{{ 'ON' if (value_json.energy_missing_kwh or 0) > 0 else 'OFF' }}",
        description="Policy ready-by: a problem when the price cap leaves too few slots to charge what is needed.",
        device_class="problem",
    ),
    EntityDescription(
        key="plan_cost",
        platform=Platform.SENSOR,
        name="Plan cost",
        field="plan_cost_eur",
        value_template=_value("plan_cost_eur"),
        description="Policy ready-by: price × energy over the planned slots.",
        device_class="monetary",
        unit="EUR",
        icon="mdi:cash",
    ),
    EntityDescription(
        key="charge_now_active",
        platform=Platform.BINARY_SENSOR,
        name="Charging now (override)",
        field="charge_now",
        value_template=_flag("charge_now"),
        description='On while "charge now" holds the device at full power until the car is unplugged.',
        device_class="running",
    ),
    EntityDescription(
        key="charge_now",
        platform=Platform.BUTTON,
        name="Charge now",
        field="charge_now",
        value_template="",
        description="Charge at full power now, over the plan, until the car is unplugged; press again to end it.",
        icon="mdi:lightning-bolt",
        setting="charge_now",
    ),
    EntityDescription(
        key="standalone_policy",
        platform=Platform.SELECT,
        name="Planning policy",
        field="policy",
        value_template=_value("policy"),
        description="Standalone policy of the agent: the cheapest price levels, or enough energy by the departure.",
        options=READY_BY_POLICIES,
        category=Category.CONFIG,
        icon="mdi:strategy",
        setting="policy",
        agent_topic="settings",
    ),
    EntityDescription(
        key="departure_time",
        platform=Platform.TEXT,
        name="Departure time",
        field="ready_by",
        value_template=_value("ready_by"),
        description="Policy ready-by: the daily departure, HH:MM in the agent's zone.",
        category=Category.CONFIG,
        icon="mdi:clock-end",
        setting="ready_by",
        agent_topic="settings",
        pattern=CLOCK_PATTERN,
    ),
    EntityDescription(
        key="energy_to_add",
        platform=Platform.NUMBER,
        name="Energy to add",
        field="energy_kwh",
        value_template=_value("energy_kwh"),
        description="Policy ready-by: the energy to charge per session (unsets the target SoC).",
        unit="kWh",
        category=Category.CONFIG,
        icon="mdi:battery-plus",
        setting="energy_kwh",
        number=ENERGY_RANGE,
        agent_topic="settings",
    ),
    EntityDescription(
        key="target_soc",
        platform=Platform.NUMBER,
        name="Target state of charge",
        field="target_soc",
        value_template=_value("target_soc"),
        description="Policy ready-by: the state of charge to reach (needs battery_kwh and a SoC source; unsets the "
        "energy to add).",
        unit="%",
        category=Category.CONFIG,
        icon="mdi:battery-charging-80",
        setting="target_soc",
        number=SOC_RANGE,
        agent_topic="settings",
    ),
)
"""The entities of every device, read from its status topic (the ready-by controls from the settings topic: they
change the agent's standalone settings, shown on the charger's device where the owner looks for them)."""

PRICE_THRESHOLD_RANGE = NumberRange(min_value=-10.0, max_value=10.0, step=0.001)
TOP_X_RANGE = NumberRange(min_value=1, max_value=1000, step=1)

AGENT_ENTITIES: tuple[EntityDescription, ...] = (
    EntityDescription(
        key="operation_mode",
        platform=Platform.SELECT,
        name="Operation mode",
        field="operation_mode",
        value_template=_value("operation_mode"),
        description="standalone or hems; changing it clears every schedule and starts the mode fresh.",
        options=tuple(m.value for m in OperationMode),
        icon="mdi:swap-horizontal",
        setting="operation_mode",
    ),
    EntityDescription(
        key="standalone_paused",
        platform=Platform.SWITCH,
        name="Pause standalone scheduling",
        field="paused",
        value_template=_flag("paused"),
        description="On: standalone planning writes no schedule until switched off again.",
        icon="mdi:pause-circle-outline",
        setting="paused",
    ),
    EntityDescription(
        key="price_threshold",
        platform=Platform.NUMBER,
        name="Price cap",
        field="price_threshold",
        value_template=_value("price_threshold"),
        description="Standalone: never charge in a slot priced above it; unknown when there is no cap.",
        unit="EUR/kWh",
        category=Category.CONFIG,
        icon="mdi:cash-lock",
        setting="price_threshold",
        number=PRICE_THRESHOLD_RANGE,
    ),
    EntityDescription(
        key="top_x_charge_count",
        platform=Platform.NUMBER,
        name="Cheapest price levels",
        field="top_x_charge_count",
        value_template=_value("top_x_charge_count"),
        description="Standalone: how many of the lowest unique price levels to charge at.",
        category=Category.CONFIG,
        icon="mdi:format-list-numbered",
        setting="top_x_charge_count",
        number=TOP_X_RANGE,
    ),
    EntityDescription(
        key="price_data",
        platform=Platform.SENSOR,
        name="Price data",
        field="state",
        value_template=_value("state"),
        description=(
            "Health of the price source, read from `{hems_prefix}/agent/prices`: `error` while the last update "
            "failed but the prices in use still cover the coming hours, `stale` when they do not (or tomorrow's "
            "are overdue). Attributes: `last_success`, `last_error`, `last_error_at`, `covers_until`, `warning`."
        ),
        device_class="enum",
        options=PRICE_STATES,
        category=Category.DIAGNOSTIC,
        icon="mdi:cash-clock",
        agent_topic="prices",
    ),
)
"""The agent's own entities: its controls, read from the settings topic, and its price data diagnostic."""


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
