"""The all-in price: `price = spot × price_multiplier + price_adder_eur_kwh`, applied where a source delivers.

Day-ahead markets publish the spot price; a household pays VAT on it and grid fees and energy tax on
top. The cap and every plan must compare against what is really paid, so every built-in source's curves
pass through `AllInSink` on their way to the board: `PriceSlot.price_eur_kwh` becomes the all-in price
and `PriceSlot.spot_eur_kwh` keeps the source's own price. With the defaults (1 and 0) curves pass
through untouched, so a source that already delivers all-in prices (the energy-prices add-on) is not
changed.

A plugin's price source gets the same keys by deriving its config model from `AllInPriceConfig` and
registering `with_all_in(name, create)` instead of `create`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, Field

from energy_agent.api.devices import DeviceContext
from energy_agent.api.domain import PriceCurve
from energy_agent.api.prices import PriceSink, PriceSource
from energy_agent.prices.board import PriceBoard

PRICE_DECIMALS = 6
"""All-in prices are rounded to 6 decimals (0.0001 cent): float noise (0.1 × 1.21 = 0.12100000000000001)
stays out of plans and JSON, and no two market prices (0.01 EUR/MWh apart at the finest) merge."""


class AllInPriceConfig(BaseModel):
    """The all-in price keys every built-in `prices:` kind has."""

    price_multiplier: float = Field(default=1.0, gt=0, le=10)
    """All-in price = spot × `price_multiplier` + `price_adder_eur_kwh`: e.g. 1.21 for 21 % VAT."""
    price_adder_eur_kwh: float = Field(default=0.0, ge=-10, le=10)
    """EUR/kWh added after the multiplier: grid fees, energy tax, the supplier's margin (incl. VAT)."""


@dataclass(frozen=True, slots=True)
class AllInPrice:
    """The formula `spot × multiplier + adder_eur_kwh`, in EUR/kWh."""

    multiplier: float = 1.0
    adder_eur_kwh: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.multiplier) and self.multiplier > 0):
            raise ValueError(f"price multiplier must be a finite number above 0, got {self.multiplier}")
        if not math.isfinite(self.adder_eur_kwh):
            raise ValueError(f"price adder must be a finite number, got {self.adder_eur_kwh}")

    @classmethod
    def of(cls, config: object) -> AllInPrice:
        """The formula of a `prices:` config; a config without the keys (a plugin's) gets the identity."""
        return cls(
            multiplier=float(getattr(config, "price_multiplier", 1.0)),
            adder_eur_kwh=float(getattr(config, "price_adder_eur_kwh", 0.0)),
        )

    @property
    def is_identity(self) -> bool:
        """True when the formula leaves every price as it is."""
        return self.multiplier == 1.0 and self.adder_eur_kwh == 0.0

    def price_eur_kwh(self, spot_eur_kwh: float) -> float:
        """The all-in price of one spot price, rounded to `PRICE_DECIMALS`."""
        return round(spot_eur_kwh * self.multiplier + self.adder_eur_kwh, PRICE_DECIMALS)

    def apply(self, curve: PriceCurve) -> PriceCurve:
        """The curve at all-in prices, each slot keeping its spot price; the identity returns `curve` itself."""
        if self.is_identity:
            return curve
        return PriceCurve(
            tuple(
                replace(slot, price_eur_kwh=self.price_eur_kwh(spot), spot_eur_kwh=spot)
                for slot in curve.slots
                # a slot already carrying a spot price has been through a formula: start from the spot again
                for spot in (slot.spot_eur_kwh if slot.spot_eur_kwh is not None else slot.price_eur_kwh,)
            )
        )

    def describe(self) -> str:
        """The formula as the CLI and the logs show it."""
        return f"spot × {self.multiplier:g} + {self.adder_eur_kwh:g} EUR/kWh"


class AllInSink:
    """A PriceSink that hands curves on at all-in prices; problems pass through unchanged."""

    def __init__(self, sink: PriceSink, formula: AllInPrice) -> None:
        self._sink = sink
        self._formula = formula

    async def update(self, curve: PriceCurve) -> None:
        """Apply the formula and deliver."""
        await self._sink.update(self._formula.apply(curve))

    def error(self, message: str) -> None:
        """Pass the problem on."""
        self._sink.error(message)


class AllInSource:
    """A price source whose curves reach the sink at all-in prices, and which names itself to a PriceBoard."""

    def __init__(self, name: str, inner: PriceSource, formula: AllInPrice) -> None:
        self.name = name
        self.inner = inner
        self.formula = formula

    async def run(self, sink: PriceSink) -> None:
        """Run the wrapped source into an `AllInSink`."""
        if isinstance(sink, PriceBoard) and sink.source is None:
            sink.source = self.name
        await self.inner.run(sink if self.formula.is_identity else AllInSink(sink, self.formula))


def with_all_in(name: str, create: Callable[[Any, DeviceContext], PriceSource]) -> Callable[[Any, DeviceContext], Any]:
    """A `PriceSourceType.create` that wraps the source `create` builds in the config's all-in formula."""

    def create_all_in(config: Any, context: DeviceContext) -> AllInSource:
        return AllInSource(name, create(config, context), AllInPrice.of(config))

    create_all_in.__doc__ = f"Build the {name} price source, delivering all-in prices."
    return create_all_in
