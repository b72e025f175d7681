"""Write examples/prices.json: a made-up but realistic NL winter day-ahead curve for 2026-11-25 and 2026-11-26.

Quarter-hour slots in Europe/Amsterdam, consumer prices in EUR/kWh including energy tax and VAT. The
wholesale price follows a typical winter weekday (cheap night, morning bump, midday dip, evening peak)
with deterministic jitter in whole EUR/MWh, so several slots share exactly the same price.

Run: python examples/make_prices.py
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Europe/Amsterdam")
DAYS = (date(2026, 11, 25), date(2026, 11, 26))
SEED = 20261125
ENERGY_TAX_EUR_KWH = 0.0916
SUPPLIER_MARKUP_EUR_KWH = 0.0200
VAT = 1.21

# wholesale EUR/MWh at each local hour of a winter weekday
WHOLESALE_BY_HOUR_EUR_MWH = (
    44, 36, 30, 26, 25, 29, 52, 104, 128, 118, 98, 86,
    80, 82, 92, 112, 148, 184, 176, 150, 124, 104, 88, 72,
)  # fmt: skip
# a windy second night pushes wholesale prices towards zero
SECOND_DAY_SHIFT_EUR_MWH = (
    -22,
    -28,
    -34,
    -38,
    -36,
    -30,
    -16,
    -4,
    0,
    0,
    -6,
    -12,
    -14,
    -14,
    -10,
    -6,
    0,
    6,
    8,
    4,
    0,
    -8,
    -16,
    -24,
)


def consumer_price_eur_kwh(wholesale_eur_mwh: int) -> float:
    """What a dynamic-contract customer pays per kWh for a wholesale price."""
    return round((wholesale_eur_mwh / 1000 + ENERGY_TAX_EUR_KWH + SUPPLIER_MARKUP_EUR_KWH) * VAT, 4)


def make_curve() -> list[dict[str, object]]:
    """The example curve as the energy-prices add-on publishes it: a list of {start, end, price}."""
    rng = random.Random(SEED)
    curve: list[dict[str, object]] = []
    for day_index, day in enumerate(DAYS):
        start = datetime.combine(day, time(), tzinfo=ZONE)
        for quarter in range(96):
            hour = quarter // 4
            wholesale = WHOLESALE_BY_HOUR_EUR_MWH[hour] + (SECOND_DAY_SHIFT_EUR_MWH[hour] if day_index else 0)
            # quarter hours inside an hour often clear at the same price: that gives exact ties
            wholesale += rng.choice((-2, 0, 0, 0, 1, 3))
            slot_start = start + timedelta(minutes=15 * quarter)
            curve.append(
                {
                    "start": slot_start.isoformat(timespec="seconds"),
                    "end": (slot_start + timedelta(minutes=15)).isoformat(timespec="seconds"),
                    "price": consumer_price_eur_kwh(wholesale),
                }
            )
    return curve


def main() -> None:
    """Write the curve next to this script."""
    target = Path(__file__).with_name("prices.json")
    target.write_text(json.dumps(make_curve(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
