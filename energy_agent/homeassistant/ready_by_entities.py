"""The Home Assistant entities of the `ready-by` policy on each charger's device: what the plan delivers, "charge
now", and the controls of the agent-wide ready-by settings (read from the settings topic; docs/ready-by.md)."""

from __future__ import annotations

from energy_agent.homeassistant.entity_model import (
    Category,
    EntityDescription,
    NumberRange,
    Platform,
    flag_of,
    value_of,
)

READY_BY_POLICIES = ("unique-price-levels", "ready-by")
ENERGY_RANGE = NumberRange(min_value=0.1, max_value=1000.0, step=0.1)
SOC_RANGE = NumberRange(min_value=1, max_value=100, step=1)
CLOCK_PATTERN = r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$"


READY_BY_ENTITIES: tuple[EntityDescription, ...] = (
    EntityDescription(
        key="ready_by",
        platform=Platform.SENSOR,
        name="Ready by",
        field="ready_by",
        value_template=value_of("ready_by"),
        description="Policy ready-by: the departure the plan in force is made for; unknown under another policy.",
        device_class="timestamp",
        icon="mdi:car-clock",
    ),
    EntityDescription(
        key="energy_planned",
        platform=Platform.SENSOR,
        name="Energy planned",
        field="energy_planned_kwh",
        value_template=value_of("energy_planned_kwh"),
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
        value_template=value_of("energy_missing_kwh"),
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
        value_template=value_of("plan_cost_eur"),
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
        value_template=flag_of("charge_now"),
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
        value_template=value_of("policy"),
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
        value_template=value_of("ready_by"),
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
        value_template=value_of("energy_kwh"),
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
        value_template=value_of("target_soc"),
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
"""Appended to every device's entities."""
