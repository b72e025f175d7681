"""The public plugin API: everything a plugin may import from the core, and nothing else.

A plugin imports from `energy_agent.api` (and its tests from `energy_agent.testing`); every other module of the
core may change without notice. The names listed in `__all__` are stable within a major version: they may grow
(a new optional field, a new hook argument a plugin is free to ignore), not change. See docs/writing-plugins.md.
"""

from energy_agent.api.backoff import Backoff
from energy_agent.api.clock import Clock, SystemClock
from energy_agent.api.devices import (
    Device,
    DeviceContext,
    DeviceType,
    MqttAccess,
    PolicyOptionsSource,
    ScheduleClearer,
    ScheduleReader,
    ScheduleRestorer,
    ScheduleTarget,
    StatusReader,
    controls_current,
)
from energy_agent.api.domain import (
    ChargerState,
    DeviceCapabilities,
    DeviceStatus,
    HeldSchedule,
    OperationMode,
    Period,
    PriceCurve,
    PriceSlot,
    Schedule,
    ScheduleSource,
    isoformat,
    merge_periods,
    require_aware,
)
from energy_agent.api.errors import (
    ConfigError,
    DeviceAuthError,
    DeviceError,
    DeviceRejectedError,
    DeviceUnavailableError,
    EnergyAgentError,
    PluginError,
    PriceDataError,
    StateError,
)
from energy_agent.api.following import ScheduleFollower
from energy_agent.api.homeassistant import AppOptions, option_value
from energy_agent.api.hooks import hookimpl
from energy_agent.api.metrics import Metrics
from energy_agent.api.planning import (
    DEFAULT_STANDALONE_POLICY,
    DayJson,
    EnergySummary,
    PeriodJson,
    Plan,
    PlanRequest,
    SlotJson,
    SlotStatus,
    StandalonePolicy,
)
from energy_agent.api.prices import PriceSink, PriceSource, PriceSourceType, parse_price_curve

__all__ = [
    "DEFAULT_STANDALONE_POLICY",
    "AppOptions",
    "Backoff",
    "ChargerState",
    "Clock",
    "ConfigError",
    "DayJson",
    "Device",
    "DeviceAuthError",
    "DeviceCapabilities",
    "DeviceContext",
    "DeviceError",
    "DeviceRejectedError",
    "DeviceStatus",
    "DeviceType",
    "DeviceUnavailableError",
    "EnergyAgentError",
    "EnergySummary",
    "HeldSchedule",
    "Metrics",
    "MqttAccess",
    "OperationMode",
    "Period",
    "PeriodJson",
    "Plan",
    "PlanRequest",
    "PluginError",
    "PolicyOptionsSource",
    "PriceCurve",
    "PriceDataError",
    "PriceSink",
    "PriceSlot",
    "PriceSource",
    "PriceSourceType",
    "Schedule",
    "ScheduleClearer",
    "ScheduleFollower",
    "ScheduleReader",
    "ScheduleRestorer",
    "ScheduleSource",
    "ScheduleTarget",
    "SlotJson",
    "SlotStatus",
    "StandalonePolicy",
    "StateError",
    "StatusReader",
    "SystemClock",
    "controls_current",
    "hookimpl",
    "isoformat",
    "merge_periods",
    "option_value",
    "parse_price_curve",
    "require_aware",
]
