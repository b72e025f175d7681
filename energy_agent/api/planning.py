"""Standalone planning: the request a policy gets, the plan it answers, and the report shapes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any, NotRequired, TypedDict
from zoneinfo import ZoneInfo

from energy_agent.api.domain import Period, PriceCurve, require_aware

DEFAULT_STANDALONE_POLICY = "unique-price-levels"
"""The policy the agent plans a charger with unless told otherwise: the proposal's unique-price-level rule."""


@dataclass(frozen=True)
class PlanRequest:
    """Input to a standalone policy."""

    prices: PriceCurve
    now: datetime
    timezone: ZoneInfo
    price_threshold_eur_kwh: float | None
    top_x_charge_count: int
    max_current_a: float | None = None
    """The device's highest current; None for a device that does not control current."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """The planned device's `policy_options` (see PolicyOptionsSource); empty when it has none."""
    ready_by: datetime | None = None
    """Departure: the energy must be in by then (policy `ready-by`); None when no departure is known."""
    energy_needed_kwh: float | None = None
    """Energy still to deliver before `ready_by` (policy `ready-by`); None when it is not known."""
    power_kw: float | None = None
    """The device's charging (or running) power (policy `ready-by`); None when it is not known."""


@dataclass(frozen=True)
class EnergySummary:
    """What an energy-aware plan (policy `ready-by`) delivers by the departure, and at what cost."""

    energy_needed_kwh: float
    energy_planned_kwh: float
    """At least `energy_needed_kwh` (the last part rounds up to whole minutes) unless the cap leaves too little."""
    energy_missing_kwh: float
    """How much of the need the eligible slots cannot cover; 0 when the plan is complete."""
    cost_eur: float
    """Price × energy over every planned part."""
    ready_by: datetime
    """The departure (UTC, as domain types store it)."""
    power_kw: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "ready_by", require_aware(self.ready_by, "ready_by"))

    def to_json(self, tz: tzinfo) -> dict[str, Any]:
        """The `energy` object of `energy-agent plan --json`: kWh to the Wh, EUR to 1/100 cent, time in `tz`."""
        return {
            "needed_kwh": round(self.energy_needed_kwh, 3),
            "planned_kwh": round(self.energy_planned_kwh, 3),
            "missing_kwh": round(self.energy_missing_kwh, 3),
            "cost_eur": round(self.cost_eur, 4),
            "ready_by": self.ready_by.astimezone(tz).isoformat(timespec="seconds"),
        }


@dataclass(frozen=True)
class Plan:
    """A policy's answer: every selected period (ended ones too) and why."""

    periods: tuple[Period, ...]
    threshold_active: bool = False
    no_eligible_slots: bool = False
    warnings: tuple[str, ...] = ()
    explanation: Mapping[str, Any] = field(default_factory=dict)
    """JSON-ready explanation, the shape `energy-agent plan --json` prints under `days`."""
    energy: EnergySummary | None = None
    """The energy summary of an energy-aware policy (`ready-by`); None for the others."""


@dataclass(frozen=True)
class StandalonePolicy:
    """A pure planning function: prices in, periods out; no I/O."""

    name: str
    plan: Callable[[PlanRequest], Plan]


class SlotStatus(StrEnum):
    """Why a price slot was or was not chosen."""

    SELECTED = "selected"
    ABOVE_THRESHOLD = "above_threshold"
    NOT_IN_TOP_X = "not_in_top_x"
    OUTSIDE_WINDOW = "outside_window"
    """ready-by: the slot has no part between now and the departure."""
    NOT_NEEDED = "not_needed"
    """ready-by: eligible and in the window, but cheaper (or equal and earlier) parts already hold the energy."""


class SlotJson(TypedDict):
    """One price slot and its verdict; `rank` (1 = cheapest chosen level) only for selected slots, else null.

    Policy `ready-by`: `rank` is the order in which the slot's part was chosen (1 = first, the cheapest), and
    `energy_kwh` the energy planned in the slot (0 when not selected).
    `price` is what the cap and the plan use (the all-in price); `spot_price` is the source's own price it was
    computed from, present only when an all-in formula applies (`prices.price_multiplier`/`price_adder_eur_kwh`).
    """

    start: str
    end: str
    price: float
    status: str
    rank: int | None
    energy_kwh: NotRequired[float]
    spot_price: NotRequired[float]


class PeriodJson(TypedDict):
    """A merged run of selected slots."""

    start: str
    end: str


class DayJson(TypedDict):
    """One local calendar day of the plan."""

    date: str
    threshold_active: bool
    excluded_by_threshold: int
    no_eligible_slots: bool
    levels: list[float]
    slots: list[SlotJson]
    periods: list[PeriodJson]
