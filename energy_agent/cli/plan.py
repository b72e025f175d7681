"""`energy-agent plan`: explain what standalone mode would do with a price file, without touching a device."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console

from energy_agent.api.errors import PriceDataError
from energy_agent.api.planning import DayJson, PlanJson, PlanRequest, StandalonePolicy, plan_json
from energy_agent.api.prices import parse_price_curve
from energy_agent.standalone.report import render_chart, render_table


def read_prices(path: Path) -> object:
    """The JSON document of a price file; PriceDataError when it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PriceDataError(f"{path}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PriceDataError(f"{path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise PriceDataError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None


def build_plan(
    policy: StandalonePolicy,
    prices_path: Path,
    *,
    threshold: float | None,
    top_x: int,
    zone: ZoneInfo,
    now: datetime,
) -> PlanJson:
    """The plan's JSON document (the shape `--json` prints)."""
    curve = parse_price_curve(read_prices(prices_path), where=str(prices_path))
    plan = policy.plan(
        PlanRequest(prices=curve, now=now, timezone=zone, price_threshold_eur_kwh=threshold, top_x_charge_count=top_x)
    )
    days: list[DayJson] = list(plan.explanation.get("days", []))
    return plan_json(days, tz_name=zone.key, threshold=threshold, top_x=top_x)


def print_plan(document: PlanJson, *, as_json: bool, chart: Path | None, console: Console) -> None:
    """Print the plan as JSON or as tables; write the chart when asked."""
    if as_json:
        console.print_json(json.dumps(document))
    else:
        render_table(document["days"], console)
    if chart is not None:
        written = render_chart(document["days"], chart, document["threshold"], tz_name=document["timezone"])
        if not as_json:
            console.print(f"chart written to {written}")
