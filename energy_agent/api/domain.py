"""Domain types shared by the core and every plugin: periods, schedules, price slots, device status.

Every datetime here is timezone-aware and stored in UTC; constructors refuse naive ones and convert
the others. Show times in the configured zone at the edges (payloads, CLI output).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


def require_aware(value: datetime, name: str) -> datetime:
    """Return `value` in UTC, or raise ValueError when it has no UTC offset.

    Domain types store UTC: Python compares two datetimes of the same ZoneInfo by wall clock, which gets
    the repeated hour of a DST change wrong.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must carry a UTC offset, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def isoformat(value: datetime | None) -> str | None:
    """ISO 8601 with offset, seconds precision; None stays None."""
    return None if value is None else value.isoformat(timespec="seconds")


class ScheduleSource(StrEnum):
    """Who decided the schedule in force."""

    STANDALONE = "standalone"
    HEMS = "hems"
    NONE = "none"


class OperationMode(StrEnum):
    """Who decides: the agent itself, or an external HEMS."""

    STANDALONE = "standalone"
    HEMS = "hems"


class ChargerState(StrEnum):
    """A connector's state as the HEMS status reports it."""

    IDLE = "idle"
    PLUGGED_IN = "plugged_in"
    CHARGING = "charging"
    ERROR = "error"

    @classmethod
    def of_ocpp_status(cls, status: str | None) -> ChargerState | None:
        """The state an OCPP 1.6 ChargePointStatus stands for (in any letter case); None for any other word."""
        return _OCPP_STATUS_STATES.get((status or "").lower())


_OCPP_STATUS_STATES = {
    "available": ChargerState.IDLE,
    "reserved": ChargerState.IDLE,
    "preparing": ChargerState.PLUGGED_IN,
    "suspendedev": ChargerState.PLUGGED_IN,
    "suspendedevse": ChargerState.PLUGGED_IN,
    "finishing": ChargerState.PLUGGED_IN,
    "charging": ChargerState.CHARGING,
    "unavailable": ChargerState.ERROR,
    "faulted": ChargerState.ERROR,
}


@dataclass(frozen=True, slots=True)
class Period:
    """A time span during which the device may run; `max_current_a` None means the schedule's default."""

    start: datetime
    end: datetime
    max_current_a: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", require_aware(self.start, "period start"))
        object.__setattr__(self, "end", require_aware(self.end, "period end"))
        if not self.start < self.end:
            raise ValueError(f"period start {self.start.isoformat()} is not before end {self.end.isoformat()}")

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return (self.end - self.start).total_seconds()

    def contains(self, when: datetime) -> bool:
        """True when `when` lies in [start, end)."""
        return self.start <= when < self.end

    def to_json(self) -> dict[str, Any]:
        """The JSON form used in the state file (full precision, so it round-trips exactly)."""
        data: dict[str, Any] = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.max_current_a is not None:
            data["max_current"] = self.max_current_a
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Period:
        """Inverse of `to_json`."""
        return cls(
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            max_current_a=data.get("max_current"),
        )


def merge_periods(periods: Iterable[Period]) -> tuple[Period, ...]:
    """Sort periods and merge those that overlap or touch and share the same current."""
    merged: list[Period] = []
    for period in sorted(periods, key=lambda p: (p.start, p.end)):
        if merged and period.start <= merged[-1].end and period.max_current_a == merged[-1].max_current_a:
            last = merged[-1]
            merged[-1] = replace(last, end=max(last.end, period.end))
        else:
            merged.append(period)
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class Schedule:
    """What a device is told to do: charge (or run) during `periods`, at most `max_current_a`, until `expires_at`.

    Periods are sorted and do not overlap. An empty schedule means "do not run". `source_id` names the HEMS that
    sent it, when it named itself; like `command_id`, it changes nothing the device is asked to do.
    """

    periods: tuple[Period, ...]
    source: ScheduleSource
    max_current_a: float | None = None
    expires_at: datetime | None = None
    command_id: str | None = None
    source_id: str | None = None

    def __post_init__(self) -> None:
        if self.expires_at is not None:
            object.__setattr__(self, "expires_at", require_aware(self.expires_at, "expires_at"))
        for earlier, later in zip(self.periods, self.periods[1:], strict=False):
            if later.start < earlier.end:
                raise ValueError("schedule periods must be sorted and must not overlap")

    def current_for(self, period: Period) -> float | None:
        """The current limit that applies during `period`."""
        return period.max_current_a if period.max_current_a is not None else self.max_current_a

    def active_at(self, when: datetime) -> Period | None:
        """The period running at `when`, if any (an expired schedule has none)."""
        if self.is_expired(when):
            return None
        return next((p for p in self.periods if p.contains(when)), None)

    def next_period(self, when: datetime) -> Period | None:
        """The period running at `when`, or else the next one to start; None when nothing is left."""
        if self.is_expired(when):
            return None
        return next((p for p in self.periods if p.end > when), None)

    def next_change(self, after: datetime) -> datetime | None:
        """The first moment after `after` at which what the device should do changes: a period start or end,
        or the expiry."""
        moments = [t for p in self.periods for t in (p.start, p.end) if t > after]
        if self.expires_at is not None and self.expires_at > after:
            moments.append(self.expires_at)
        return min(moments, default=None)

    def is_expired(self, when: datetime) -> bool:
        """True once `expires_at` has been reached."""
        return self.expires_at is not None and when >= self.expires_at

    def without_ended(self, when: datetime) -> Schedule:
        """A copy without the periods that ended at or before `when`."""
        return replace(self, periods=tuple(p for p in self.periods if p.end > when))

    def same_plan(self, other: Schedule | None) -> bool:
        """True when `other` asks the device for the same thing (ignoring command id and source id)."""
        return (
            other is not None
            and self.periods == other.periods
            and self.max_current_a == other.max_current_a
            and self.expires_at == other.expires_at
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON form used in the state file."""
        return {
            "source": self.source.value,
            "periods": [p.to_json() for p in self.periods],
            "max_current": self.max_current_a,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "command_id": self.command_id,
            "source_id": self.source_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schedule:
        """Inverse of `to_json`."""
        expires = data.get("expires_at")
        return cls(
            periods=tuple(Period.from_json(p) for p in data["periods"]),
            source=ScheduleSource(data["source"]),
            max_current_a=data.get("max_current"),
            expires_at=datetime.fromisoformat(expires) if expires else None,
            command_id=data.get("command_id"),
            source_id=data.get("source_id"),
        )


@dataclass(frozen=True, slots=True)
class PriceSlot:
    """One price interval: import price in EUR/kWh over [start, end).

    `price_eur_kwh` is what plans and the cap use: the all-in price when `prices.price_multiplier` or
    `prices.price_adder_eur_kwh` is set. `spot_eur_kwh` is then the source's own price it was computed from;
    None when the source's price is used as it is.
    """

    start: datetime
    end: datetime
    price_eur_kwh: float
    spot_eur_kwh: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", require_aware(self.start, "slot start"))
        object.__setattr__(self, "end", require_aware(self.end, "slot end"))
        if not self.start < self.end:
            raise ValueError(f"slot start {self.start.isoformat()} is not before end {self.end.isoformat()}")


@dataclass(frozen=True, slots=True)
class PriceCurve:
    """Price slots sorted by start, without overlaps (gaps allowed)."""

    slots: tuple[PriceSlot, ...]

    def __post_init__(self) -> None:
        for earlier, later in zip(self.slots, self.slots[1:], strict=False):
            if later.start < earlier.end:
                raise ValueError(f"price slots overlap or are unsorted at {later.start.isoformat()}")

    @classmethod
    def from_slots(cls, slots: Sequence[PriceSlot]) -> PriceCurve:
        """Build a curve from slots in any order."""
        return cls(tuple(sorted(slots, key=lambda s: s.start)))

    def covering(self, when: datetime) -> PriceSlot | None:
        """The slot that contains `when`, if any."""
        return next((s for s in self.slots if s.start <= when < s.end), None)

    @property
    def end(self) -> datetime | None:
        """End of the last slot."""
        return self.slots[-1].end if self.slots else None


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A device's live readings; units in the names."""

    state: ChargerState
    online: bool = True
    current_power_kw: float = 0.0
    session_energy_kwh: float | None = None
    total_energy_kwh: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceCapabilities:
    """What a device accepts, published so a HEMS knows what it may send."""

    min_current_a: float
    max_current_a: float
    phases: int
    control_strategy: str
    horizon_s: int
    max_periods: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HeldSchedule:
    """What a device was read back to hold: when it will run, at what current, until when.

    `periods` are what the device itself will do from `read_at` on (each with its current limit, None where the
    device does not limit current); an empty tuple means the device holds nothing that makes it run.
    `detail` is the vendor's own description, for display only (never compared).
    """

    periods: tuple[Period, ...]
    read_at: datetime
    valid_until: datetime | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "read_at", require_aware(self.read_at, "read_at"))
        if self.valid_until is not None:
            object.__setattr__(self, "valid_until", require_aware(self.valid_until, "valid_until"))
