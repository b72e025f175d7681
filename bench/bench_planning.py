"""Measure standalone planning on a year of quarter-hour prices (35,040 slots in Europe/Amsterdam, 2026).

Prints the median of several runs for: the selection alone (`select_slots`), the policy's `plan` (periods,
flags, warnings; the explanation is formatted lazily), and `plan` plus formatting the whole per-slot JSON
explanation. Run: .venv/bin/python bench/bench_planning.py [--runs N]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from energy_agent.api.domain import PriceCurve
from energy_agent.api.planning import PlanRequest
from energy_agent.api.prices import parse_price_curve
from energy_agent.standalone.unique_levels import plan, select_slots

ZONE = ZoneInfo("Europe/Amsterdam")
YEAR_START = datetime(2026, 1, 1, tzinfo=ZONE)
SLOT_S = 15 * 60
THRESHOLD_EUR_KWH = 0.25
TOP_X = 16


def year_of_prices(seed: int = 2026) -> PriceCurve:
    """A year of quarter hours with a daily shape, a winter/summer swing and noise, parsed like real input."""
    rng = random.Random(seed)
    start_utc = YEAR_START.astimezone(UTC)
    end_utc = datetime(2027, 1, 1, tzinfo=ZONE).astimezone(UTC)
    count = int((end_utc - start_utc).total_seconds()) // SLOT_S
    items = []
    for index in range(count):
        start = (start_utc + timedelta(seconds=index * SLOT_S)).astimezone(ZONE)
        hour = start.hour + start.minute / 60
        season = math.cos(2 * math.pi * (start.timetuple().tm_yday / 365))
        daily = 0.06 * math.sin(2 * math.pi * (hour - 10) / 24) + 0.05 * math.exp(-(((hour - 18) / 2) ** 2))
        price = 0.21 + 0.04 * season + daily + rng.gauss(0, 0.012)
        items.append(
            {
                "start": start.isoformat(),
                "end": (start_utc + timedelta(seconds=(index + 1) * SLOT_S)).astimezone(ZONE).isoformat(),
                "price": round(price, 4),
            }
        )
    return parse_price_curve(items)


def median_ms(action: Callable[[], object], runs: int) -> float:
    """Median wall time of `action` over `runs` runs, in milliseconds (after one warm-up run)."""
    action()
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        timings.append(time.perf_counter() - began)
    return statistics.median(timings) * 1000


def main() -> None:
    """Build the year, time the three steps and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    curve = year_of_prices()
    request = PlanRequest(
        prices=curve,
        now=YEAR_START + timedelta(days=180),
        timezone=ZONE,
        price_threshold_eur_kwh=THRESHOLD_EUR_KWH,
        top_x_charge_count=TOP_X,
        max_current_a=16,
    )
    days = select_slots(curve, tz=ZONE, price_threshold_eur_kwh=THRESHOLD_EUR_KWH, top_x_charge_count=TOP_X)
    periods = sum(len(day.periods) for day in days)
    print(f"{len(curve.slots)} slots, {len(days)} days, {periods} periods (cap {THRESHOLD_EUR_KWH}, top {TOP_X})")
    selection = median_ms(
        lambda: select_slots(curve, tz=ZONE, price_threshold_eur_kwh=THRESHOLD_EUR_KWH, top_x_charge_count=TOP_X),
        runs,
    )
    print(f"select_slots:                 {selection:7.1f} ms (median of {runs})")
    print(f"plan:                         {median_ms(lambda: plan(request), runs):7.1f} ms (median of {runs})")
    with_json = median_ms(lambda: plan(request).explanation["days"], runs)
    print(f"plan + per-slot JSON:         {with_json:7.1f} ms (median of {runs})")


if __name__ == "__main__":
    main()
