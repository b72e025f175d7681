"""The charging profiles a simulated charger holds, and the limit they set at any moment, as OCPP 1.6 says.

At a moment `t`, for a connector: a valid TxProfile of the running transaction wins over every TxDefaultProfile;
within a purpose, the valid profile with the highest stack level that has a period at `t` sets the limit (on a
tie, the connector's own profile beats one on connector 0); a ChargePointMaxProfile caps the result. A profile
is valid from `validFrom` (default: always) until `validTo` (default: for ever). Its schedule starts at
`startSchedule` (Absolute), at the transaction start (Relative) or at the last daily/weekly repetition of
`startSchedule` (Recurring); `startPeriod` counts seconds from there, and the schedule ends after `duration`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

TX_PROFILE = "TxProfile"
TX_DEFAULT = "TxDefaultProfile"
CP_MAX = "ChargePointMaxProfile"
RECURRENCE_S = {"Daily": 86400, "Weekly": 7 * 86400}


def _time(raw: Any) -> datetime | None:
    if raw is None:
        return None
    when = datetime.fromisoformat(str(raw))
    if when.tzinfo is None:
        raise ValueError(f"time without offset: {raw}")
    return when


@dataclass(frozen=True)
class InstalledProfile:
    """One profile as the charger stored it."""

    connector_id: int
    profile_id: int
    stack_level: int
    purpose: str
    kind: str
    unit: str
    periods: tuple[tuple[int, float], ...]
    """(startPeriod s, limit), sorted."""
    installed_at: datetime
    transaction_id: int | None = None
    recurrency: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    start_schedule: datetime | None = None
    duration_s: int | None = None

    @classmethod
    def parse(cls, connector_id: int, data: Mapping[str, Any], now: datetime) -> InstalledProfile:
        """From a csChargingProfiles object with snake_case keys (as the ocpp library hands it over)."""
        schedule = data["charging_schedule"]
        periods = tuple(
            sorted((int(p["start_period"]), float(p["limit"])) for p in schedule["charging_schedule_period"])
        )
        if not periods:
            raise ValueError("no chargingSchedulePeriod")
        return cls(
            connector_id=connector_id,
            profile_id=int(data["charging_profile_id"]),
            stack_level=int(data["stack_level"]),
            purpose=str(data["charging_profile_purpose"]),
            kind=str(data["charging_profile_kind"]),
            unit=str(schedule["charging_rate_unit"]),
            periods=periods,
            installed_at=now,
            transaction_id=data.get("transaction_id"),
            recurrency=data.get("recurrency_kind"),
            valid_from=_time(data.get("valid_from")),
            valid_to=_time(data.get("valid_to")),
            start_schedule=_time(schedule.get("start_schedule")),
            duration_s=None if schedule.get("duration") is None else int(schedule["duration"]),
        )

    def same_slot(self, other: InstalledProfile) -> bool:
        """Same connector, stack level and purpose: a new profile there replaces the old one."""
        return (self.connector_id, self.stack_level, self.purpose) == (
            other.connector_id,
            other.stack_level,
            other.purpose,
        )

    def valid_at(self, when: datetime) -> bool:
        """Inside validFrom..validTo."""
        return (self.valid_from is None or self.valid_from <= when) and (self.valid_to is None or when < self.valid_to)

    def schedule_start(self, when: datetime, transaction_start: datetime | None) -> datetime | None:
        """Where the schedule's offsets count from, for the moment `when`; None when it does not apply."""
        if self.kind == "Relative":
            return transaction_start
        start = self.start_schedule or self.installed_at
        if self.kind == "Recurring":
            every = RECURRENCE_S.get(self.recurrency or "", 0)
            if every and when >= start:
                start += timedelta(seconds=every * ((when - start).total_seconds() // every))
        return start

    def limit_at(self, when: datetime, transaction_start: datetime | None = None) -> float | None:
        """The limit this profile sets at `when`, or None (not valid, not started, ended)."""
        if not self.valid_at(when):
            return None
        start = self.schedule_start(when, transaction_start)
        if start is None:
            return None
        offset = (when - start).total_seconds()
        if offset < 0 or (self.duration_s is not None and offset >= self.duration_s):
            return None
        applying = [limit for begin, limit in self.periods if begin <= offset]
        return applying[-1] if applying else None

    def edges(self, start: datetime, end: datetime, transaction_start: datetime | None) -> Iterable[datetime]:
        """Moments in [start, end) where this profile's limit may change."""
        for moment in (self.valid_from, self.valid_to):
            if moment is not None:
                yield moment
        origins: list[datetime] = []
        first = self.schedule_start(start, transaction_start)
        if first is not None:
            origins.append(first)
            every = RECURRENCE_S.get(self.recurrency or "", 0) if self.kind == "Recurring" else 0
            while every and origins[-1] < end:
                origins.append(origins[-1] + timedelta(seconds=every))
        for origin in origins:
            yield from (origin + timedelta(seconds=begin) for begin, _ in self.periods)
            if self.duration_s is not None:
                yield origin + timedelta(seconds=self.duration_s)


@dataclass(frozen=True)
class ActiveLimit:
    """The limit in force and the profile that sets it."""

    limit: float
    profile: InstalledProfile


class ProfileStore:
    """The profiles a charger holds (they survive reconnects, as on a real charger)."""

    def __init__(self) -> None:
        self.profiles: list[InstalledProfile] = []

    def install(self, profile: InstalledProfile) -> None:
        """Store `profile`, replacing one with the same id, or the same connector, stack level and purpose."""
        self.profiles = [p for p in self.profiles if p.profile_id != profile.profile_id and not p.same_slot(profile)]
        self.profiles.append(profile)

    def clear(
        self,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> int:
        """ClearChargingProfile: by id, or by whichever criteria are given (none: all). Returns how many went."""

        def matches(p: InstalledProfile) -> bool:
            if profile_id is not None:
                return p.profile_id == profile_id
            return (
                (connector_id is None or p.connector_id == connector_id)
                and (purpose is None or p.purpose == purpose)
                and (stack_level is None or p.stack_level == stack_level)
            )

        before = len(self.profiles)
        self.profiles = [p for p in self.profiles if not matches(p)]
        return before - len(self.profiles)

    def end_transaction(self, connector_id: int) -> None:
        """A transaction ended: its TxProfiles go with it."""
        self.profiles = [p for p in self.profiles if not (p.purpose == TX_PROFILE and p.connector_id == connector_id)]

    def active(
        self,
        connector_id: int,
        when: datetime,
        *,
        transaction_id: int | None = None,
        transaction_start: datetime | None = None,
    ) -> ActiveLimit | None:
        """The limit in force on `connector_id` at `when`; None when no profile sets one."""
        found: ActiveLimit | None = None
        if transaction_id is not None:
            found = self._highest(
                (
                    p
                    for p in self.profiles
                    if p.purpose == TX_PROFILE
                    and p.connector_id == connector_id
                    and p.transaction_id in (None, transaction_id)
                ),
                when,
                transaction_start,
                connector_id,
            )
        if found is None:
            found = self._highest(
                (p for p in self.profiles if p.purpose == TX_DEFAULT and p.connector_id in (0, connector_id)),
                when,
                transaction_start,
                connector_id,
            )
        cap = self._highest((p for p in self.profiles if p.purpose == CP_MAX), when, transaction_start, 0)
        if cap is not None and (found is None or cap.limit < found.limit):
            return cap
        return found

    @staticmethod
    def _highest(
        candidates: Iterable[InstalledProfile], when: datetime, transaction_start: datetime | None, connector_id: int
    ) -> ActiveLimit | None:
        ranked = sorted(candidates, key=lambda p: (p.stack_level, p.connector_id == connector_id), reverse=True)
        for profile in ranked:
            limit = profile.limit_at(when, transaction_start)
            if limit is not None:
                return ActiveLimit(limit, profile)
        return None

    def edges(
        self, connector_id: int, start: datetime, end: datetime, transaction_start: datetime | None
    ) -> list[datetime]:
        """Sorted moments in (start, end) where the limit on the connector may change."""
        moments = {
            moment
            for p in self.profiles
            if p.connector_id in (0, connector_id)
            for moment in p.edges(start, end, transaction_start)
            if start < moment < end
        }
        return sorted(moments)
