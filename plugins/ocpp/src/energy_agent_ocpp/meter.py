"""Readings out of OCPP 1.6 MeterValues: active power and the energy register, whatever units and phases a charger uses.

Pure functions. A sampled value without `measurand` is the energy register, without `unit` in Wh (the spec's
defaults). A total (no `phase`) wins over per-phase values; per-phase power is summed. A charger that sends
currents but no power gets its power estimated from current and voltage (230 V when no voltage is sent).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ENERGY_REGISTER = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
VOLTAGE = "Voltage"
NOMINAL_VOLTAGE_V = 230.0
_ENERGY_TO_KWH = {"wh": 0.001, "kwh": 1.0}
_POWER_TO_KW = {"w": 0.001, "kw": 1.0}
_PHASES = ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N")


@dataclass(frozen=True)
class MeterReading:
    """What one MeterValues message says; None where it says nothing."""

    power_kw: float | None = None
    energy_kwh: float | None = None
    skipped: int = 0
    """Sampled values that could not be read (not a number, a unit we do not know)."""


def _number(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _total(values: list[tuple[str | None, float]]) -> float | None:
    """The value without phase, or else the sum of the phase values (line-to-neutral or plain L1..L3)."""
    totals = [v for phase, v in values if phase is None]
    if totals:
        return totals[-1]
    phases = {phase: v for phase, v in values if phase in _PHASES}
    if not phases:
        return None
    return sum(phases.values())


def read_meter_values(meter_value: Iterable[Mapping[str, Any]]) -> MeterReading:
    """Power (kW) and energy register (kWh) from the `meter_value` list of a MeterValues request (snake_case keys).

    When a message holds several samples, the latest one (last in the list) counts.
    """
    power: list[tuple[str | None, float]] = []
    energy: list[tuple[str | None, float]] = []
    currents: dict[str, float] = {}
    voltages: dict[str, float] = {}
    skipped = 0
    for sample in meter_value:
        for sampled in sample.get("sampled_value") or []:
            if sampled.get("format") == "SignedData":
                continue
            value = _number(sampled.get("value"))
            measurand = sampled.get("measurand") or ENERGY_REGISTER
            unit = str(sampled.get("unit") or ("Wh" if measurand == ENERGY_REGISTER else "")).lower()
            phase = sampled.get("phase")
            if value is None:
                skipped += 1
            elif measurand == ENERGY_REGISTER and unit in _ENERGY_TO_KWH:
                energy.append((phase, value * _ENERGY_TO_KWH[unit]))
            elif measurand == POWER and unit in _POWER_TO_KW:
                power.append((phase, value * _POWER_TO_KW[unit]))
            elif measurand == CURRENT and unit in ("a", "") and phase:
                currents[str(phase)[:2]] = value
            elif measurand == VOLTAGE and unit in ("v", "") and phase:
                voltages[str(phase)[:2]] = value
            elif measurand in (ENERGY_REGISTER, POWER):
                skipped += 1
    power_kw = _total(power)
    if power_kw is None and currents:
        power_kw = sum(i * voltages.get(p, NOMINAL_VOLTAGE_V) for p, i in currents.items()) / 1000
    energy_kwh = _total(energy)
    return MeterReading(power_kw=power_kw, energy_kwh=energy_kwh, skipped=skipped)
