"""Every Home Assistant entity the agent announces, as data: one frozen description per entity, no class per sensor.

Device entities read the device's retained status topic (`{hems_prefix}/{device_type}/{topic_id}/status`,
the contract's status payload); the agent's controls read the retained settings topic
(`{hems_prefix}/agent/settings`). Each description names the JSON field it reads, so that the table in
docs/home-assistant.md is generated from here (`entity_table`) and checked by a test.
"""

from __future__ import annotations

from energy_agent.api.domain import ChargerState, OperationMode, ScheduleSource
from energy_agent.homeassistant.entity_model import (
    Category,
    EntityDescription,
    NumberRange,
    Platform,
    entity_table,
    flag_of,
    text_of,
    value_of,
)
from energy_agent.homeassistant.ready_by_entities import READY_BY_ENTITIES
from energy_agent.prices.health import STATES as PRICE_STATES

__all__ = [
    "AGENT_ENTITIES",
    "DEVICE_ENTITIES",
    "Category",
    "EntityDescription",
    "NumberRange",
    "Platform",
    "entity_table",
]

DEVICE_ENTITIES: tuple[EntityDescription, ...] = (
    EntityDescription(
        key="state",
        platform=Platform.SENSOR,
        name="State",
        field="state",
        value_template=value_of("state"),
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
        value_template=value_of("schedule_source"),
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
        value_template=flag_of("schedule_active"),
        description="On while a period of the schedule in force is running.",
        device_class="running",
    ),
    EntityDescription(
        key="next_period_start",
        platform=Platform.SENSOR,
        name="Next period start",
        field="next_period_start",
        value_template=value_of("next_period_start"),
        description="Start of the running or next period; unknown when none is left.",
        device_class="timestamp",
    ),
    EntityDescription(
        key="next_period_end",
        platform=Platform.SENSOR,
        name="Next period end",
        field="next_period_end",
        value_template=value_of("next_period_end"),
        description="End of the running or next period; unknown when none is left.",
        device_class="timestamp",
    ),
    EntityDescription(
        key="current_power",
        platform=Platform.SENSOR,
        name="Power",
        field="current_power_kw",
        value_template=value_of("current_power_kw"),
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
        value_template=value_of("session_energy_kwh"),
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
        value_template=value_of("total_energy_kwh"),
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
        value_template=flag_of("hems_connected"),
        description="On while the HEMS announces itself online.",
        device_class="connectivity",
    ),
    EntityDescription(
        key="last_hems_command_at",
        platform=Platform.SENSOR,
        name="Last HEMS command",
        field="last_hems_command_at",
        value_template=value_of("last_hems_command_at"),
        description="When the last HEMS command (set or clear, accepted or not) arrived.",
        device_class="timestamp",
        icon="mdi:clock-outline",
    ),
    EntityDescription(
        key="price_threshold_active",
        platform=Platform.BINARY_SENSOR,
        name="Price cap active",
        field="price_threshold_active",
        value_template=flag_of("price_threshold_active"),
        description="Standalone: on when the price cap excluded at least one otherwise chosen slot.",
        icon="mdi:cash-lock",
    ),
    EntityDescription(
        key="no_eligible_slots",
        platform=Platform.BINARY_SENSOR,
        name="No slot under the price cap",
        field="no_eligible_slots",
        value_template=flag_of("no_eligible_slots"),
        description="Standalone: a problem when no slot is at or below the cap, so the device will not run.",
        device_class="problem",
    ),
    EntityDescription(
        key="online",
        platform=Platform.BINARY_SENSOR,
        name="Reachable",
        field="online",
        value_template=flag_of("online"),
        description="On while the agent can reach the device.",
        device_class="connectivity",
        category=Category.DIAGNOSTIC,
    ),
    EntityDescription(
        key="last_error",
        platform=Platform.SENSOR,
        name="Last error",
        field="last_error",
        value_template=text_of("last_error"),
        description="The last problem the agent met with this device; unknown when there is none.",
        category=Category.DIAGNOSTIC,
        icon="mdi:alert-circle-outline",
    ),
    EntityDescription(
        key="last_command_result",
        platform=Platform.SENSOR,
        name="Last command result",
        field="last_command_result",
        value_template=value_of("last_command_result"),
        description="Outcome of the last HEMS command: accepted or refused.",
        device_class="enum",
        options=("accepted", "refused"),
        category=Category.DIAGNOSTIC,
        icon="mdi:check-decagram-outline",
    ),
    *READY_BY_ENTITIES,
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
        value_template=value_of("operation_mode"),
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
        value_template=flag_of("paused"),
        description="On: standalone planning writes no schedule until switched off again.",
        icon="mdi:pause-circle-outline",
        setting="paused",
    ),
    EntityDescription(
        key="price_threshold",
        platform=Platform.NUMBER,
        name="Price cap",
        field="price_threshold",
        value_template=value_of("price_threshold"),
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
        value_template=value_of("top_x_charge_count"),
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
        value_template=value_of("state"),
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
