"""A realistic made-up day-ahead price curve (NL winter, EUR/kWh incl. tax) for demos and examples."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from energy_agent.api.domain import PriceCurve, PriceSlot
from energy_agent.api.prices import price_curve_json

# wholesale EUR/MWh at each local hour of a winter weekday: cheap night, morning bump, evening peak
WHOLESALE_BY_HOUR_EUR_MWH = (
    44, 36, 30, 26, 25, 29, 52, 104, 128, 118, 98, 86,
    80, 82, 92, 112, 148, 184, 176, 150, 124, 104, 88, 72,
)  # fmt: skip
ENERGY_TAX_EUR_KWH = 0.0916
SUPPLIER_MARKUP_EUR_KWH = 0.0200
VAT = 1.21


def consumer_price_eur_kwh(wholesale_eur_mwh: int) -> float:
    """What a dynamic-contract customer pays per kWh for a wholesale price."""
    return round((wholesale_eur_mwh / 1000 + ENERGY_TAX_EUR_KWH + SUPPLIER_MARKUP_EUR_KWH) * VAT, 4)


def sample_curve(days: list[date], zone: ZoneInfo, *, slot_minutes: int = 15, seed: int = 2026) -> PriceCurve:
    """Quarter-hour (or other) slots for the given local days; whole-EUR/MWh jitter makes exact ties."""
    rng = random.Random(seed)
    slots = []
    for day in days:
        start = datetime.combine(day, time(0), zone)
        end = datetime.combine(day + timedelta(days=1), time(0), zone)
        moment = start
        while moment < end:
            local_hour = moment.astimezone(zone).hour
            wholesale = WHOLESALE_BY_HOUR_EUR_MWH[local_hour] + rng.randint(-6, 6)
            following = moment + timedelta(minutes=slot_minutes)
            slots.append(PriceSlot(moment, following, consumer_price_eur_kwh(wholesale)))
            moment = following
    return PriceCurve.from_slots(slots)


curve_json = price_curve_json
"""The `price_curve` list form that price files and Home Assistant use (`energy_agent.api.price_curve_json`)."""
