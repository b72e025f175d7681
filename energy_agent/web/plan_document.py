"""`/api/plan`: per device, the price slots with the verdict on each and why, the charging periods, the cap, the
departure, and the chart drawn from them (`chart_svg`).

While standalone planning is in force a device's slots come from its plan's explanation (chosen, above the cap,
not among the lowest levels, ...). Otherwise (the HEMS decides, or nothing was planned yet) the slots are the
price curve, and a slot counts as chosen when the schedule in force runs in it.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from energy_agent.api.domain import isoformat
from energy_agent.api.planning import Plan, SlotJson, SlotStatus
from energy_agent.config import StandaloneSettings
from energy_agent.runtime.view import AgentView, DeviceView
from energy_agent.web.chart_svg import Bar, Chart, render_svg


def slot_reason(slot: SlotJson, settings: StandaloneSettings) -> str:
    """Why a planned slot was or was not chosen, in words."""
    status = slot["status"]
    if status == SlotStatus.SELECTED:
        if "energy_kwh" in slot:
            return f"chosen: part {slot['rank']} of the plan (cheapest first), {slot['energy_kwh']:.2f} kWh"
        return f"chosen: price level {slot['rank']} of the {settings.top_x_charge_count} lowest under the cap"
    if status == SlotStatus.ABOVE_THRESHOLD:
        return f"not chosen: above the cap of {settings.price_threshold:g} EUR/kWh"
    if status == SlotStatus.NOT_IN_TOP_X:
        return f"not chosen: not among the {settings.top_x_charge_count} lowest price levels"
    if status == SlotStatus.OUTSIDE_WINDOW:
        return "not chosen: outside the window from now to the departure"
    if status == SlotStatus.NOT_NEEDED:
        return "not chosen: cheaper slots already hold the energy needed"
    return f"not chosen: {status.replace('_', ' ')}"


def _planned_bars(plan: Plan, settings: StandaloneSettings) -> list[Bar]:
    days = plan.explanation.get("days") or []
    return [
        Bar(
            datetime.fromisoformat(slot["start"]),
            datetime.fromisoformat(slot["end"]),
            slot["price"],
            slot["status"],
            slot_reason(slot, settings),
        )
        for day in days
        for slot in day["slots"]
    ]


def _scheduled_bars(view: AgentView, device: DeviceView, why_not: str) -> list[Bar]:
    curve = view.price_curve
    if curve is None:
        return []
    periods = device.schedule.periods if device.schedule is not None else ()
    source = device.schedule.source.value if device.schedule is not None else "none"
    bars = []
    for slot in curve.slots:
        runs = any(period.start < slot.end and slot.start < period.end for period in periods)
        status, why = ("selected", f"runs: in the {source} schedule in force") if runs else ("not_scheduled", why_not)
        bars.append(Bar(slot.start, slot.end, slot.price_eur_kwh, status, why))
    return bars


def device_chart(view: AgentView, device: DeviceView, now: datetime, zone: tzinfo) -> tuple[Chart, Plan | None]:
    """The chart of one device, and the plan it shows (None when it shows the schedule in force)."""
    settings = view.standalone
    plan = view.plan(device.key) if view.standalone_in_force else None
    bars = _planned_bars(plan, settings) if plan is not None else []
    if bars and plan is not None:
        periods = [(period.start, period.end) for period in plan.periods]
        departure = plan.energy.ready_by if plan.energy is not None else None
    else:
        plan = None
        if view.standalone_in_force:
            warnings = device.status.get("warnings") or ["no plan yet"]
            why_not = f"not scheduled: {warnings[0]}"
        else:
            why_not = "not scheduled: the HEMS decides (hems mode)"
        bars = _scheduled_bars(view, device, why_not)
        periods = [(p.start, p.end) for p in device.schedule.periods] if device.schedule is not None else []
        departure = None
    cap = settings.price_threshold if view.standalone_in_force else None
    label = f"{device.name}: prices and charging slots"
    return Chart(bars, periods, zone, now, cap_eur_kwh=cap, departure=departure, label=label), plan


NOW_STEP_S = 900
"""The chart's now line moves by quarter hours, with the price slots: the document (some 80 kB) changes that often
when the plan does not, which keeps a page left open from taking it every minute."""


def plan_document(view: AgentView, now: datetime, zone: tzinfo) -> dict[str, Any]:
    """The `/api/plan` document (times in the agent's zone); `now` is taken down to its quarter hour."""
    now = datetime.fromtimestamp(now.timestamp() // NOW_STEP_S * NOW_STEP_S, now.tzinfo)
    charts = []
    for device in view.devices():
        chart, plan = device_chart(view, device, now, zone)
        charts.append(
            {
                "device": device.key,
                "name": device.name,
                "source": "plan" if plan is not None else "schedule",
                "cap": chart.cap_eur_kwh,
                "ready_by": _local(chart.departure, zone),
                "energy": plan.energy.to_json(zone) if plan is not None and plan.energy is not None else None,
                "warnings": list(plan.warnings) if plan is not None else [],
                "periods": [{"start": _local(s, zone), "end": _local(e, zone)} for s, e in chart.periods],
                "slots": [
                    {
                        "start": _local(bar.start, zone),
                        "end": _local(bar.end, zone),
                        "price": bar.price_eur_kwh,
                        "status": bar.status,
                        "why": bar.why,
                    }
                    for bar in chart.bars
                ],
                "svg": render_svg(chart),
            }
        )
    return {
        "now": isoformat(now.astimezone(zone)),
        "operation_mode": view.mode.value,
        "standalone_in_force": view.standalone_in_force,
        "charts": charts,
    }


def _local(moment: datetime | None, zone: tzinfo) -> str | None:
    return None if moment is None else isoformat(moment.astimezone(zone))
