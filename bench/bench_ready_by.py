"""Ready-by planning on 7 days of 15-minute prices: the `ready-by` policy's `plan`, judged against 20 ms.

The week runs from Thursday 2026-10-22 00:00 in Europe/Amsterdam over the autumn DST change (676 slots, prices
with bench_planning's daily shape and noise); the departure is at the end of the week, so every slot is in the
window; 60 kWh at 11 kW under a 0.25 EUR/kWh cap. Figures, medians of several runs: `plan` (periods, the energy
summary and the warnings: what the agent runs at every re-plan; the explanation is formatted lazily) and `plan`
plus the per-slot JSON explanation (what `energy-agent plan --json` prints).

    .venv/bin/python -m bench.bench_ready_by [--quick] [--out FILE]
"""

from __future__ import annotations

import math
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bench._common import Outcome, emit, parse_args
from bench.bench_planning import median_ms
from energy_agent.api.domain import PriceCurve, PriceSlot
from energy_agent.api.planning import PlanRequest
from energy_agent.standalone.ready_by import plan

ZONE = ZoneInfo("Europe/Amsterdam")
WEEK_START = datetime(2026, 10, 22, tzinfo=ZONE)
DAYS = 7
SLOT = timedelta(minutes=15)
THRESHOLD_EUR_KWH = 0.25
ENERGY_KWH = 60.0
POWER_KW = 11.0
TARGET_MS = 20


def week_of_prices(seed: int = 2026) -> PriceCurve:
    """7 local days of quarter hours with a daily shape and noise (stepped in UTC: the DST day has 100)."""
    rng = random.Random(seed)
    begin = WEEK_START.astimezone(UTC)
    end = (WEEK_START + timedelta(days=DAYS)).astimezone(UTC)
    slots = []
    start = begin
    while start < end:
        local = start.astimezone(ZONE)
        hour = local.hour + local.minute / 60
        daily = 0.06 * math.sin(2 * math.pi * (hour - 10) / 24) + 0.05 * math.exp(-(((hour - 18) / 2) ** 2))
        slots.append(PriceSlot(start, start + SLOT, round(0.22 + daily + rng.gauss(0, 0.012), 4)))
        start += SLOT
    return PriceCurve(tuple(slots))


def request_for(curve: PriceCurve) -> PlanRequest:
    """Plan from the week's start for a departure at its end."""
    return PlanRequest(
        prices=curve,
        now=WEEK_START,
        timezone=ZONE,
        price_threshold_eur_kwh=THRESHOLD_EUR_KWH,
        top_x_charge_count=16,
        max_current_a=16,
        ready_by=curve.slots[-1].end,
        energy_needed_kwh=ENERGY_KWH,
        power_kw=POWER_KW,
    )


def measure(runs: int) -> Outcome:
    """Build the week, time `plan` and `plan` with its explanation."""
    outcome = Outcome("ready_by")
    curve = week_of_prices()
    request = request_for(curve)
    result = plan(request)
    assert result.energy is not None and result.energy.energy_missing_kwh == 0, result.warnings
    planned = median_ms(lambda: plan(request), runs)
    explained = median_ms(lambda: plan(request).explanation["days"], runs)
    detail = f"median of {runs}; {len(curve.slots)} slots, {len(result.periods)} periods"
    outcome.add(
        "ready-by plan, 7 days of 15-min prices", planned, "ms", target=f"<= {TARGET_MS} ms",
        ok=planned <= TARGET_MS, detail=detail,
    )  # fmt: skip
    outcome.add("ready-by plan + per-slot JSON explanation", explained, "ms", detail=f"median of {runs}")
    outcome.data = {"slots": len(curve.slots), "runs": runs, "periods": len(result.periods)}
    return outcome


def main() -> None:
    """Measure and emit (no broker needed)."""
    args = parse_args(__doc__.splitlines()[0], broker=False)
    began = time.perf_counter()
    emit(measure(5 if args.quick else 21), args.out)
    print(f"  ({time.perf_counter() - began:.1f} s in all)", file=sys.stderr)


if __name__ == "__main__":
    main()
