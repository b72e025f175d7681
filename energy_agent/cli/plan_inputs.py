"""The `ready-by` inputs of `energy-agent plan`: flags over the config, checked, or a clean exit 2."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from energy_agent.cli.common import fail
from energy_agent.config import StandaloneSettings
from energy_agent.standalone.departure import DepartureSchedule, first_instant_showing, parse_clock_time


@dataclass(frozen=True)
class ReadyByInputs:
    """What the ready-by policy needs from the command line (or the config)."""

    ready_by: datetime
    energy_needed_kwh: float
    power_kw: float


def departure_from_flag(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """`--ready-by`: an ISO 8601 time (without an offset: local in `zone`) or `HH:MM` (the next one after now).

    A local time that occurs twice or not at all resolves as a daily departure does (docs/ready-by.md).
    """
    try:
        return DepartureSchedule.parse(parse_clock_time(text).strftime("%H:%M")).next_after(now, zone)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--ready-by {text!r}: not an ISO 8601 time (e.g. 2026-11-26T07:00) nor HH:MM")
    if when.tzinfo is not None:
        return when
    return first_instant_showing(when.date(), when.time(), zone)


def _departure(flag: str | None, base: StandaloneSettings, zone: ZoneInfo, now: datetime) -> datetime | None:
    if flag is not None:
        return departure_from_flag(flag, zone, now)
    schedule = base.departure_schedule
    return None if schedule is None else schedule.next_after(now, zone)


def ready_by_inputs(
    *,
    ready_by: str | None,
    energy_kwh: float | None,
    power_kw: float | None,
    base: StandaloneSettings,
    zone: ZoneInfo,
    now: datetime,
) -> ReadyByInputs:
    """The flags, else the config's `ready_by`, `energy_kwh` and `charge_power_kw`; exit 2 naming what is missing."""
    problems = []
    departure = _departure(ready_by, base, zone, now)
    if departure is None:
        problems.append("--ready-by is needed for policy ready-by (e.g. 2026-11-26T07:00, or 07:00 for the next one)")
    energy = energy_kwh if energy_kwh is not None else base.energy_kwh
    if energy is None:
        hint = (
            " (the config's target_soc needs a live SoC reading, which plan does not read)" if base.target_soc else ""
        )
        problems.append(f"--energy-kwh is needed for policy ready-by (the kWh to add, e.g. 22){hint}")
    elif not math.isfinite(energy) or energy < 0:
        problems.append(f"--energy-kwh {energy!r}: expected a number of kWh at or above 0")
    power = power_kw if power_kw is not None else base.charge_power_kw
    if power is None:
        problems.append("--power-kw is needed for policy ready-by (the charging power in kW, e.g. 11)")
    elif not math.isfinite(power) or power <= 0:
        problems.append(f"--power-kw {power!r}: expected a number of kW above 0")
    if departure is None or energy is None or power is None or problems:
        fail(problems)
    return ReadyByInputs(departure, energy, power)
