"""What the price source's health means for the people looking at the agent: a state and readable warnings.

One report feeds the status payload's `warnings`, the `/healthz` body and the Home Assistant "Price data"
entity. The state is:

- `ok`: the last delivery was good and the prices cover the coming hours (and tomorrow, see below);
- `error`: the last delivery failed or was empty, but the last good prices still cover the coming hours;
- `stale`: no price covers now, the prices end within `STALE_AHEAD_S`, or (for the day-ahead market sources,
  `entsoe` and `nordpool`) tomorrow's prices are missing an hour after they are usually published (13:00 CE(S)T);
- `not_configured`: no price source is configured (`prices:` is absent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from energy_agent.api.domain import PriceCurve, isoformat
from energy_agent.prices.board import PriceBoard, PriceHealth, curve_freshness
from energy_agent.prices.day_ahead import MARKET_ZONE, market_midnight, tomorrow_expected_at

STALE_AHEAD_S = 3 * 3600.0
"""Prices ending sooner than this are stale (the standalone planner's horizon, `curve_freshness`)."""
DAY_AHEAD_SOURCES = frozenset({"entsoe", "nordpool"})
"""Sources of the day-ahead market, whose tomorrow is published at a known time."""
TOMORROW_GRACE = timedelta(hours=1)
"""How long after the usual publication time tomorrow's prices may still be missing without a warning."""
STATES = ("ok", "error", "stale", "not_configured")


@dataclass(frozen=True, slots=True)
class PriceReport:
    """The price source's health as of `now`, in words (see the module docstring)."""

    state: str
    """One of `STATES`."""
    covers_now: bool
    """A price slot covers now."""
    warnings: tuple[str, ...]
    """Empty when the state is `ok` or `not_configured`; else one line starting with `prices`."""
    health: PriceHealth

    def to_json(self) -> dict[str, Any]:
        """The retained JSON of the Home Assistant entity: the state, the warning and the source's times."""
        health = self.health
        return {
            "state": self.state,
            "source": health.source,
            "last_success": isoformat(health.last_success_at),
            "last_error": health.last_error,
            "last_error_at": isoformat(health.last_error_at),
            "covers_until": isoformat(health.covers_until),
            "warning": self.warnings[0] if self.warnings else None,
        }


def local_time(value: datetime, zone: tzinfo, *, with_date: bool = True) -> str:
    """`2026-11-30 14:02` in `zone`; a midnight reads `2026-11-30 24:00` (the end of that day)."""
    local = value.astimezone(zone)
    if with_date and (local.hour, local.minute, local.second) == (0, 0, 0):
        return f"{(local - timedelta(days=1)).date().isoformat()} 24:00"
    return local.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def tomorrow_overdue(now: datetime, covers_until: datetime | None) -> datetime | None:
    """When the market's tomorrow was expected, if it is overdue at `now` and the prices lack it; else None."""
    today = now.astimezone(MARKET_ZONE).date()
    expected = tomorrow_expected_at(today)
    if now < expected + TOMORROW_GRACE:
        return None
    if covers_until is not None and covers_until >= market_midnight(today + timedelta(days=2)):
        return None
    return expected


def price_report(
    health: PriceHealth, curve: PriceCurve | None, now: datetime, zone: tzinfo, *, configured: bool = True
) -> PriceReport:
    """The report of a board's `health` and `curve` at `now`, times shown in `zone`."""
    covers_now = curve is not None and curve.covering(now) is not None
    if not configured and health.source is None and curve is None:
        return PriceReport("not_configured", covers_now, (), health)
    stale = curve_freshness(curve, now, STALE_AHEAD_S) is not None
    late = tomorrow_overdue(now, health.covers_until) if health.source in DAY_AHEAD_SOURCES else None
    parts: list[str] = []
    if not health.ok and health.last_error is not None:
        at = health.last_error_at
        today = at is not None and at.astimezone(zone).date() == now.astimezone(zone).date()
        when = f" at {local_time(at, zone, with_date=not today)}" if at is not None else ""
        parts.append(f"last update failed{when}: {health.last_error}")
    if health.covers_until is None:
        parts.append("no prices received yet")
    elif not covers_now:
        parts.append(f"no price covers now (prices run until {local_time(health.covers_until, zone)})")
    else:
        parts.append(f"prices cover until {local_time(health.covers_until, zone)}")
    if late is not None:
        parts.append(f"tomorrow's prices are missing (expected from {local_time(late, zone, with_date=False)})")
    state = "stale" if stale or late is not None else "ok" if health.ok else "error"
    if state == "ok":
        return PriceReport(state, covers_now, (), health)
    name = f"prices ({health.source})" if health.source else "prices"
    return PriceReport(state, covers_now, (f"{name}: " + "; ".join(parts),), health)


def board_report(board: PriceBoard, now: datetime, zone: tzinfo) -> PriceReport:
    """`price_report` of what `board` holds; `not_configured` when it has no source and nothing else."""
    return price_report(board.health, board.curve, now, zone, configured=board.source is not None)
