"""A simulated car: it draws what the charger allows, up to its own maximum, and nothing below 6 A (IEC 61851)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Car:
    """An electric car plugged into a connector."""

    max_current_a: float = 16.0
    phases: int = 3
    voltage_v: float = 230.0
    min_current_a: float = 6.0
    """Below this limit a car pauses (the lowest PWM duty cycle a charger may signal is 6 A)."""

    def draw_a(self, limit_a: float) -> float:
        """Current per phase the car draws under `limit_a`."""
        return 0.0 if limit_a < self.min_current_a else min(limit_a, self.max_current_a)

    def power_kw(self, current_a: float) -> float:
        """Power at `current_a` per phase."""
        return current_a * self.voltage_v * self.phases / 1000
