"""What the `ready-by` policy is asked for: the charging power and the energy still to deliver.

Pure: the runtime passes the settings in force (the config, with any Home Assistant overrides applied via
`StandaloneSettings.model_copy(update=...)`), the device's maximum current and phases, the energy the charger
has delivered in this session and the latest state-of-charge reading, and plans with the result.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from energy_agent.config import StandaloneSettings


class ChargeNeed(NamedTuple):
    """The policy's inputs; None where they cannot be known yet (no power source, no SoC reading)."""

    power_kw: float | None
    energy_needed_kwh: float | None


def _reading(value: float | None, name: str, high: float = math.inf) -> float | None:
    if value is not None and (not math.isfinite(value) or not 0 <= value <= high):
        raise ValueError(f"{name} must be a number within 0..{high:g}, got {value!r}")
    return value


def charge_power_kw(
    settings: StandaloneSettings, max_current_a: float | None, device_phases: int | None
) -> float | None:
    """`charge_power_kw` when configured, else max current × phases × `voltage_v` (phases: configured, else the
    device's); None when neither is known."""
    if settings.charge_power_kw is not None:
        return settings.charge_power_kw
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
    power = charge_power_kw(settings, max_current_a, device_phases)
    if settings.energy_kwh is not None:
        return ChargeNeed(power, max(0.0, settings.energy_kwh - session))
    if settings.target_soc is None or settings.battery_kwh is None or soc is None:
        return ChargeNeed(power, None)
    battery_kwh = (settings.target_soc - soc) / 100 * settings.battery_kwh
    return ChargeNeed(power, max(0.0, battery_kwh / settings.charge_efficiency))
