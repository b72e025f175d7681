"""Planning a year of 15-minute prices (35,040 slots): bench/bench_planning.py's measurements, judged.

Reuses bench_planning.year_of_prices and median_ms. Figures: the selection alone (`select_slots`), the policy's
`plan` (what the agent runs when prices change; checked against the target), and `plan` plus formatting the
per-slot JSON explanation. Target: 100 ms.
"""

from __future__ import annotations

import time
from datetime import timedelta

from bench._common import Outcome, emit, parse_args
from bench.bench_planning import THRESHOLD_EUR_KWH, TOP_X, YEAR_START, ZONE, median_ms, year_of_prices
from energy_agent.api.planning import PlanRequest
from energy_agent.standalone.unique_levels import plan, select_slots

TARGET_MS = 100


def measure(runs: int) -> Outcome:
    """Build the year, time the three steps."""
    outcome = Outcome("planning")
    began = time.perf_counter()
    curve = year_of_prices()
    build_s = time.perf_counter() - began
    request = PlanRequest(
        prices=curve,
        now=YEAR_START + timedelta(days=180),
        timezone=ZONE,
        price_threshold_eur_kwh=THRESHOLD_EUR_KWH,
        top_x_charge_count=TOP_X,
        max_current_a=16,
    )
    selection = median_ms(
        lambda: select_slots(curve, tz=ZONE, price_threshold_eur_kwh=THRESHOLD_EUR_KWH, top_x_charge_count=TOP_X),
        runs,
    )
    planned = median_ms(lambda: plan(request), runs)
    explained = median_ms(lambda: plan(request).explanation["days"], runs)
    outcome.add("select_slots, a year of 15-min prices", selection, "ms", detail=f"median of {runs}")
    outcome.add(
        "plan, a year of 15-min prices", planned, "ms", target=f"<= {TARGET_MS} ms", ok=planned <= TARGET_MS,
        detail=f"median of {runs}; {len(curve.slots):,} slots",
    )  # fmt: skip
    outcome.add("plan + per-slot JSON explanation", explained, "ms", detail=f"median of {runs}")
    outcome.data = {"slots": len(curve.slots), "runs": runs, "build_and_parse_s": build_s}
    return outcome


def main() -> None:
    """Measure and emit (no broker needed)."""
    args = parse_args(__doc__.splitlines()[0], broker=False)
    emit(measure(3 if args.quick else 9), args.out)


if __name__ == "__main__":
    main()
