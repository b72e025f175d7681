"""The `energy-agent plan` report drawn for people: a table per day and a PNG chart, from the plan's JSON days."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict
from zoneinfo import ZoneInfo

from energy_agent.api.planning import DayJson, PeriodJson, SlotStatus

if TYPE_CHECKING:  # rich is imported where tables are drawn
    from rich.console import Console


class EnergyJson(TypedDict):
    """The energy summary of `energy-agent plan --json` (policy `ready-by`): kWh, EUR, the departure."""

    needed_kwh: float
    planned_kwh: float
    missing_kwh: float
    cost_eur: float
    ready_by: str


class PlanJson(TypedDict):
    """What `energy-agent plan --json` prints: the policy that planned, its inputs, the merged periods, the
    energy summary (null for a policy without one), the warnings, and the explanation per day."""

    policy: str
    timezone: str
    threshold: float | None
    top_x: int
    periods: list[PeriodJson]
    energy: EnergyJson | None
    warnings: list[str]
    days: list[DayJson]


def plan_json(
    days: Sequence[DayJson],
    *,
    policy: str,
    tz_name: str,
    threshold: float | None,
    top_x: int,
    periods: Sequence[PeriodJson] = (),
    energy: EnergyJson | None = None,
    warnings: Sequence[str] = (),
) -> PlanJson:
    """The JSON document of `energy-agent plan --json`; times are already in the zone `tz_name`."""
    return {
        "policy": policy,
        "timezone": tz_name,
        "threshold": threshold,
        "top_x": top_x,
        "periods": list(periods),
        "energy": energy,
        "warnings": list(warnings),
        "days": list(days),
    }


_STATUS_STYLE = {
    SlotStatus.SELECTED: "bold green",
    SlotStatus.ABOVE_THRESHOLD: "red",
    SlotStatus.NOT_IN_TOP_X: "dim",
    SlotStatus.NOT_NEEDED: "dim",
    SlotStatus.OUTSIDE_WINDOW: "dim italic",
}
_STATUS_COLOUR = {
    SlotStatus.SELECTED: "#2e8b57",
    SlotStatus.ABOVE_THRESHOLD: "#d9534f",
    SlotStatus.NOT_IN_TOP_X: "#9aa5b1",
    SlotStatus.NOT_NEEDED: "#9aa5b1",
    SlotStatus.OUTSIDE_WINDOW: "#dde2e7",
}
_DEFAULT_LEGEND = (SlotStatus.SELECTED, SlotStatus.ABOVE_THRESHOLD, SlotStatus.NOT_IN_TOP_X)


def _clock_time(value: str, with_offset: bool) -> str:
    moment = datetime.fromisoformat(value)
    text = moment.strftime("%H:%M")
    # on the autumn DST day the same wall-clock time occurs twice; the offset tells them apart
    return f"{text} {moment.strftime('%z')[:3]}:{moment.strftime('%z')[3:]}" if with_offset else text


def _price_text(price_eur_kwh: float) -> str:
    """At least 4 decimals, more when the price has them: 0.11005 must not show as the 0.1100 it is not."""
    exact = Decimal(repr(price_eur_kwh))
    exponent = exact.as_tuple().exponent
    places = min(10, max(4, -exponent if isinstance(exponent, int) else 4))
    return f"{exact:.{places}f}"


def _day_caption(day: DayJson) -> str:
    if day["no_eligible_slots"]:
        return "no slot at or below the cap: not charging this day"
    if not day["periods"]:
        return "no charging periods"
    spans = ", ".join(f"{_clock_time(p['start'], False)}–{_clock_time(p['end'], False)}" for p in day["periods"])
    return f"charging {spans}"


def _day_heading(day: DayJson, show_levels: bool) -> str:
    excluded = day["excluded_by_threshold"]
    cap = (
        f"{excluded} slot{'' if excluded == 1 else 's'} above the cap" if day["threshold_active"] else "cap not active"
    )
    if not show_levels:
        return f"{day['date']} · {cap}"
    levels = ", ".join(f"{level:.4f}" for level in day["levels"]) or "none"
    return f"{day['date']} · {cap} · levels: {levels}"


def render_table(days: Sequence[DayJson], console: Console, *, show_levels: bool = True) -> None:
    """Print one table per day: each slot's time, price (and spot price, when an all-in formula made the price),
    status and rank (and planned kWh when the policy gives it), with the chosen levels (unless `show_levels` is
    False) and periods."""
    from rich.table import Table
    from rich.text import Text

    if not days:
        console.print("no prices to plan on")
        return
    for day in days:
        offsets = {datetime.fromisoformat(slot["start"]).utcoffset() for slot in day["slots"]}
        with_offset = len(offsets) > 1
        with_energy = any("energy_kwh" in slot for slot in day["slots"])
        with_spot = any("spot_price" in slot for slot in day["slots"])
        console.print(Text(_day_heading(day, show_levels), style="bold"))
        table = Table()
        table.add_column("time")
        table.add_column("EUR/kWh", justify="right")
        if with_spot:
            table.add_column("spot", justify="right")
        table.add_column("status")
        table.add_column("rank", justify="right")
        if with_energy:
            table.add_column("kWh", justify="right")
        for slot in day["slots"]:
            style = _STATUS_STYLE.get(SlotStatus(slot["status"]), "")
            span = f"{_clock_time(slot['start'], with_offset)}–{_clock_time(slot['end'], with_offset)}"
            rank = "" if slot["rank"] is None else str(slot["rank"])
            cells: list[str | Text] = [span, _price_text(slot["price"])]
            if with_spot:
                spot = slot.get("spot_price")
                cells.append("" if spot is None else _price_text(spot))
            cells += [Text(slot["status"], style=style), rank]
            if with_energy:
                energy_kwh = slot.get("energy_kwh", 0.0)
                cells.append(f"{energy_kwh:.3f}" if energy_kwh else "")
            table.add_row(*cells)
        console.print(table)
        console.print(_day_caption(day))


def render_energy(energy: EnergyJson, warnings: Sequence[str], console: Console) -> None:
    """Print the energy summary of a `ready-by` plan as a table, then its warnings."""
    from rich.table import Table

    ready_by = datetime.fromisoformat(energy["ready_by"])
    table = Table(title=f"ready by {ready_by.strftime('%Y-%m-%d %H:%M %z')}", title_justify="left")
    for column in ("needed kWh", "planned kWh", "missing kWh", "cost EUR"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{energy['needed_kwh']:.3f}", f"{energy['planned_kwh']:.3f}", f"{energy['missing_kwh']:.3f}",
        f"{energy['cost_eur']:.4f}",
    )  # fmt: skip
    console.print(table)
    for warning in warnings:
        console.print(f"warning: {warning}", style="bold red", soft_wrap=True)


def render_chart(
    days: Sequence[DayJson],
    path: Path | str,
    threshold: float | None,
    *,
    tz_name: str | None = None,
    ready_by: str | None = None,
) -> Path:
    """Write a PNG bar chart of the prices, selected slots highlighted, with the threshold line and, when
    `ready_by` (ISO 8601) is given, the departure line; returns the path.

    Axis times are shown in `tz_name`, or else in the offset of the first slot.
    """
    # matplotlib is an optional extra (`chart`) and slow to import: only load it when a chart is asked for
    import numpy as np
    from matplotlib.artist import Artist
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    slots = [slot for day in days for slot in day["slots"]]
    starts = [datetime.fromisoformat(slot["start"]) for slot in slots]
    ends = [datetime.fromisoformat(slot["end"]) for slot in slots]
    zone: tzinfo | None = ZoneInfo(tz_name) if tz_name else (starts[0].tzinfo if starts else None)

    figure = Figure(figsize=(12, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if slots:
        colours = [_STATUS_COLOUR.get(SlotStatus(slot["status"]), "#9aa5b1") for slot in slots]
        # epoch seconds as datetime64: matplotlib's date units without building naive datetimes
        left = np.array([round(start.timestamp()) for start in starts], dtype="datetime64[s]")
        right = np.array([round(end.timestamp()) for end in ends], dtype="datetime64[s]")
        prices = [slot["price"] for slot in slots]
        axes.bar(left, prices, width=right - left, align="edge", color=colours, linewidth=0)
        axes.xaxis_date(tz=zone)
    present = {SlotStatus(slot["status"]) for slot in slots}
    # the default policy's three verdicts always; a policy with verdicts of its own shows those it used
    shown = present if present - set(_DEFAULT_LEGEND) else {*_DEFAULT_LEGEND, *present}
    handles: list[Artist] = [
        Patch(color=colour, label=status.value.replace("_", " "))
        for status, colour in _STATUS_COLOUR.items()
        if status in shown
    ]
    if ready_by is not None:
        departure = datetime.fromisoformat(ready_by)
        # matplotlib's date unit: days since the epoch (what date2num gives; it has no type hints)
        x_departure = departure.timestamp() / 86400
        label = f"ready by {departure.astimezone(zone).strftime('%a %H:%M') if zone else ready_by}"
        handles.append(axes.axvline(x_departure, color="#1f4e79", linewidth=1.5, label=label))
    if threshold is not None:
        handles.append(
            axes.axhline(threshold, color="#333333", linestyle="--", linewidth=1, label=f"cap {threshold:g} EUR/kWh")
        )
    axes.axhline(0, color="#000000", linewidth=0.5)
    axes.set_ylabel("EUR/kWh")
    axes.set_title("Prices and selected charging slots")
    axes.legend(handles=handles, loc="upper left", fontsize="small")
    axes.grid(axis="y", alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    target = Path(path)
    figure.savefig(target, format="png")
    return target
