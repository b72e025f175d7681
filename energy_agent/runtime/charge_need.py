"""What the `ready-by` policy is asked for: the charging power and the energy still to deliver.

Pure: the runtime passes the settings in force (the config, with any Home Assistant overrides applied via
`StandaloneSettings.model_copy(update=...)`), the device's maximum current and phases, the energy the charger
has delivered in this session and the latest state-of-charge reading, and plans with the result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from energy_agent.api.devices import Device, PolicyOptionsSource, controls_current
from energy_agent.api.domain import ChargerState, DeviceStatus, Schedule, ScheduleSource
from energy_agent.config import StandaloneSettings
from energy_agent.standalone.departure import next_departure

DEVICE_KEYS = {
    "ready_by": "ready_by",
    "energy_kwh": "energy_kwh",
    "charge_power_kw": "charge_power_kw",
    "price_cap_eur_kwh": "price_threshold",
}
"""Ready-by inputs a device may set for itself in its `policy_options` (a water heater's own departure, energy and
cap), and the `standalone` setting each replaces."""
PLUGGED_STATES = frozenset({ChargerState.PLUGGED_IN, ChargerState.CHARGING})


class ChargeNeed(NamedTuple):
    """The policy's inputs; None where they cannot be known yet (no power source, no SoC reading)."""

    power_kw: float | None
    energy_needed_kwh: float | None


def _reading(value: float | None, name: str, high: float = math.inf) -> float | None:
    if value is not None and (not math.isfinite(value) or not 0 <= value <= high):
        raise ValueError(f"{name} must be a number within 0..{high:g}, got {value!r}")
    return value


def charge_power_kw(
    settings: StandaloneSettings,
    max_current_a: float | None,
    device_phases: int | None,
    device_power_kw: float | None = None,
) -> float | None:
    """`charge_power_kw` when configured, else the device's own rating (an on/off load's `power_kw`), else max
    current × phases × `voltage_v` (phases: configured, else the device's); None when none is known."""
    if settings.charge_power_kw is not None:
        return settings.charge_power_kw
    if device_power_kw is not None:
        return device_power_kw
    phases = settings.phases if settings.phases is not None else device_phases
    if max_current_a is None or phases is None:
        return None
    return max_current_a * phases * settings.voltage_v / 1000


def charge_need(
    settings: StandaloneSettings,
    *,
    max_current_a: float | None,
    device_phases: int | None,
    session_energy_kwh: float | None = None,
    soc_percent: float | None = None,
    device_power_kw: float | None = None,
) -> ChargeNeed:
    """`(power_kw, energy_needed_kwh)` for the ready-by policy.

    With `energy_kwh`: that much per session, less what the session has delivered (`session_energy_kwh`), at
    least 0. With `target_soc`: (target − SoC) / 100 × `battery_kwh` / `charge_efficiency`, at least 0, from the
    latest reading (the reading already includes the session's energy, so it is not subtracted again); None
    while there is no reading. None when neither is configured.
    """
    _reading(max_current_a, "max_current_a")
    session = _reading(session_energy_kwh, "session_energy_kwh") or 0.0
    soc = _reading(soc_percent, "soc_percent", 100)
    power = charge_power_kw(settings, max_current_a, device_phases, device_power_kw)
    if settings.energy_kwh is not None:
        return ChargeNeed(power, max(0.0, settings.energy_kwh - session))
    if settings.target_soc is None or settings.battery_kwh is None or soc is None:
        return ChargeNeed(power, None)
    battery_kwh = (settings.target_soc - soc) / 100 * settings.battery_kwh
    return ChargeNeed(power, max(0.0, battery_kwh / settings.charge_efficiency))


class ReadyByInputs(NamedTuple):
    """What `PlanRequest` takes for the ready-by policy, and the session energy it was computed with."""

    ready_by: datetime | None
    energy_needed_kwh: float | None
    power_kw: float | None
    session_energy_kwh: float | None
    price_threshold_eur_kwh: float | None
    """The cap: the device's own (`price_cap_eur_kwh` in its options), else `standalone.price_threshold`."""


def device_settings(settings: StandaloneSettings, device: Device) -> StandaloneSettings:
    """The settings in force with the device's own ready-by inputs (`DEVICE_KEYS` in its policy options) applied."""
    options: Mapping[str, Any] = device.policy_options if isinstance(device, PolicyOptionsSource) else {}
    own = {setting: options[key] for key, setting in DEVICE_KEYS.items() if options.get(key) is not None}
    if not own:
        return settings
    if "ready_by" in own or "energy_kwh" in own:
        own.setdefault("target_soc", None)  # the device's own energy replaces a state-of-charge target
    return StandaloneSettings.model_validate({**settings.model_dump(), **own})


def delivered_by_schedule(schedule: Schedule | None, since: datetime | None, now: datetime, power_kw: float) -> float:
    """The energy an on/off device (which meters no session) delivered following `schedule` between `since` (the
    last departure; None: any time) and `now`, at its rating."""
    if schedule is None:
        return 0.0
    hours = sum(
        max(0.0, (min(p.end, now) - max(p.start, since or p.start)).total_seconds()) / 3600 for p in schedule.periods
    )
    return power_kw * hours


def session_energy(status: DeviceStatus | None) -> float | None:
    """The energy of the running session: counted only while a car is plugged in (an idle charger may still show
    the last session's)."""
    if status is None or status.state not in PLUGGED_STATES:
        return None
    return status.session_energy_kwh


def ready_by_inputs(
    settings: StandaloneSettings,
    device: Device,
    status: DeviceStatus | None,
    *,
    now: datetime,
    zone: ZoneInfo,
    soc_percent: float | None = None,
    schedule: Schedule | None = None,
) -> ReadyByInputs:
    """The departure, the energy still needed and the power for one device; ValueError on a bad device input.

    A charger's delivered energy is its session meter. An on/off device meters no session: what it delivered since
    the last departure is counted from the standalone `schedule` in force it followed, at its rating.
    """
    own = device_settings(settings, device)
    capabilities = device.capabilities
    rating = capabilities.extra.get("power_kw")
    session = session_energy(status)
    departures = own.departure_schedule
    if not controls_current(capabilities) and isinstance(rating, int | float) and rating > 0:
        since = departures.last_at_or_before(now, zone) if departures is not None else None
        ours = schedule if schedule is not None and schedule.source is ScheduleSource.STANDALONE else None
        session = delivered_by_schedule(ours, since, now, float(rating))
    need = charge_need(
        own,
        max_current_a=capabilities.max_current_a if controls_current(capabilities) else None,
        device_phases=capabilities.phases,
        session_energy_kwh=session,
        soc_percent=soc_percent,
        device_power_kw=float(rating) if isinstance(rating, int | float) and rating > 0 else None,
    )
    departure = next_departure(departures, now, zone, own.departure_once)
    return ReadyByInputs(departure, need.energy_needed_kwh, need.power_kw, session, own.price_threshold)
