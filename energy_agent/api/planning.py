"""Standalone planning: the request a policy gets, the plan it answers, and the report shapes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NotRequired, TypedDict
from zoneinfo import ZoneInfo

from energy_agent.api.domain import Period, PriceCurve

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


@dataclass(frozen=True)
class Plan:
    """A policy's answer: every selected period (ended ones too) and why."""

    periods: tuple[Period, ...]
    threshold_active: bool = False
    no_eligible_slots: bool = False
    warnings: tuple[str, ...] = ()
    explanation: Mapping[str, Any] = field(default_factory=dict)
    """JSON-ready explanation, the shape `energy-agent plan --json` prints under `days`."""


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


class SlotJson(TypedDict):
    """One price slot and its verdict; `rank` (1 = cheapest chosen level) only for selected slots, else null.

    `price` is what the cap and the plan use (the all-in price); `spot_price` is the source's own price it was
    computed from, present only when an all-in formula applies (`prices.price_multiplier`/`price_adder_eur_kwh`).
    """

    start: str
    end: str
    price: float
    status: str
    rank: int | None
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
