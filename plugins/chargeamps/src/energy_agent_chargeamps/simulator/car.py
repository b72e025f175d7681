"""The simulated car: how much current it draws and when it is full."""

from __future__ import annotations

from dataclasses import dataclass

LINE_VOLTAGE_V = 230.0
"""Phase-to-neutral voltage the simulator reports and charges at."""


@dataclass(slots=True)
class Car:
    """A plugged-in car that takes up to `max_current_a` per phase on `phases` phases until it is full."""

    max_current_a: float
    phases: int
    energy_needed_kwh: float | None = None
    charged_kwh: float = 0.0

    def __post_init__(self) -> None:
        if self.phases not in (1, 2, 3):
            raise ValueError(f"a car charges on 1, 2 or 3 phases, not {self.phases}")
        if self.max_current_a <= 0:
            raise ValueError("a car's max_current_a must be positive")

    @property
    def is_full(self) -> bool:
        """True once the car has taken all the energy it needed (never, when no need was given)."""
        return self.energy_needed_kwh is not None and self.charged_kwh >= self.energy_needed_kwh

    def current_a(self, offered_a: float) -> float:
        """The current per phase the car draws when the charger offers `offered_a`."""
        if self.is_full or offered_a < 6.0:
            # IEC 61851: below 6 A the car does not charge at all.
            return 0.0
        return min(offered_a, self.max_current_a)

    def power_kw(self, current_a: float) -> float:
        """The power drawn at `current_a` per phase."""
        return current_a * self.phases * LINE_VOLTAGE_V / 1000.0

    def take(self, energy_kwh: float) -> float:
        """Absorb up to `energy_kwh`; return what was actually taken (less once the car is full)."""
        if self.energy_needed_kwh is not None:
            energy_kwh = min(energy_kwh, max(0.0, self.energy_needed_kwh - self.charged_kwh))
        self.charged_kwh += energy_kwh
        return energy_kwh
