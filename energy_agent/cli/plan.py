"""`energy-agent plan`: explain what standalone mode would do with a price file, without touching a device.

With `--config`, the config's all-in formula (`prices.price_multiplier`, `prices.price_adder_eur_kwh`) turns the
file's prices into the prices planned on, as the running agent does with what its source delivers.

No `from __future__ import annotations`: typer reads the annotations of the nested command function.
"""

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from energy_agent.api.clock import SystemClock
from energy_agent.api.domain import isoformat
from energy_agent.api.errors import EnergyAgentError, PriceDataError
from energy_agent.api.planning import DEFAULT_STANDALONE_POLICY, DayJson, PeriodJson, PlanRequest, StandalonePolicy
from energy_agent.api.prices import parse_price_curve
from energy_agent.app.plugins import Registry
from energy_agent.cli.common import fail, optional_config
from energy_agent.cli.plan_inputs import ReadyByInputs, ready_by_inputs
from energy_agent.config import StandaloneSettings
from energy_agent.machine import machine_timezone
from energy_agent.prices.all_in import AllInPrice
from energy_agent.standalone.ready_by import POLICY_NAME as READY_BY_POLICY
from energy_agent.standalone.report import EnergyJson, PlanJson, plan_json, render_chart, render_energy, render_table

if TYPE_CHECKING:  # rich is imported when a plan is drawn: `energy-agent run` never needs it
    from rich.console import Console

NO_CAP_WORDS = ("none", "null", "off")


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
    formula: AllInPrice,
    ready_by: ReadyByInputs | None = None,
) -> PlanJson:
    """The plan's JSON document (the shape `--json` prints), planned on the file's prices after `formula`."""
    curve = formula.apply(parse_price_curve(read_prices(prices_path), where=str(prices_path)))
    plan = policy.plan(
        PlanRequest(
            prices=curve,
            now=now,
            timezone=zone,
            price_threshold_eur_kwh=threshold,
            top_x_charge_count=top_x,
            ready_by=ready_by.ready_by if ready_by else None,
            energy_needed_kwh=ready_by.energy_needed_kwh if ready_by else None,
            power_kw=ready_by.power_kw if ready_by else None,
        )
    )
    days: list[DayJson] = list(plan.explanation.get("days", []))
    periods: list[PeriodJson] = [
        {"start": isoformat(p.start.astimezone(zone)) or "", "end": isoformat(p.end.astimezone(zone)) or ""}
        for p in plan.periods
    ]
    energy = cast(EnergyJson, plan.energy.to_json(zone)) if plan.energy is not None else None
    return plan_json(
        days, policy=policy.name, tz_name=zone.key, threshold=threshold, top_x=top_x,
        periods=periods, energy=energy, warnings=plan.warnings,
    )  # fmt: skip


def print_plan(
    document: PlanJson,
    *,
    as_json: bool,
    chart: Path | None,
    console: "Console",
    formula: AllInPrice,
) -> None:
    """Print the plan as JSON or as tables (and the energy summary, when the policy gives one); write the chart."""
    energy = document["energy"]
    if as_json:
        console.print_json(json.dumps(document))
    else:
        console.print(f"policy: {document['policy']}")
        if not formula.is_identity:
            console.print(f"price = {formula.describe()}")
        render_table(document["days"], console, show_levels=energy is None)
        if energy is not None:
            render_energy(energy, document["warnings"], console)
    if chart is not None:
        written = render_chart(
            document["days"], chart, document["threshold"], tz_name=document["timezone"],
            ready_by=energy["ready_by"] if energy is not None else None,
        )  # fmt: skip
        if not as_json:
            console.print(f"chart written to {written}")


def _cap(threshold: str | None, default: float | None) -> float | None:
    if threshold is None:
        return default
    if threshold.lower() in NO_CAP_WORDS:
        return None
    try:
        return float(threshold)
    except ValueError:
        fail(f"--threshold {threshold!r}: expected a number in EUR/kWh or 'none'")


def _when(now: str | None, zone: ZoneInfo) -> datetime:
    if now is None:
        return SystemClock().now()
    try:
        when = datetime.fromisoformat(now)
    except ValueError:
        fail(f"--now {now!r}: not an ISO 8601 time")
    return when if when.tzinfo is not None else when.replace(tzinfo=zone)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--timezone {name!r}: not an IANA zone name")


def add_plan_command(app: typer.Typer, registry: Registry) -> None:
    """Add `plan` to the CLI."""

    @app.command()
    def plan(
        prices: Annotated[
            Path,
            typer.Option(
                "--prices",
                help="Price file: a JSON list of {start, end, price}; with --config, the prices its all-in formula "
                "applies to, as the agent's price source delivers them.",
            ),
        ],
        threshold: Annotated[
            str | None, typer.Option(help="Price cap in EUR/kWh, or 'none' for no cap (default: config or 0.25).")
        ] = None,
        top_x: Annotated[
            int | None, typer.Option("--top-x", help="Unique price levels to charge at (default: config or 16).")
        ] = None,
        timezone: Annotated[str | None, typer.Option(help="IANA zone (default: config or the machine's).")] = None,
        now: Annotated[str | None, typer.Option(help="Plan as if it were this ISO 8601 time.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
        chart: Annotated[Path | None, typer.Option(help="Also write a PNG chart here.")] = None,
        policy: Annotated[
            str | None,
            typer.Option(
                help=f"Standalone policy (default: {READY_BY_POLICY} when a ready-by flag is given, else the config's, "
                f"else {DEFAULT_STANDALONE_POLICY})."
            ),
        ] = None,
        ready_by: Annotated[
            str | None,
            typer.Option(
                "--ready-by", help="Departure: ISO 8601 (local in --timezone without an offset), or HH:MM (the next)."
            ),
        ] = None,
        energy_kwh: Annotated[
            float | None, typer.Option("--energy-kwh", help="Energy to add by the departure, kWh (ready-by).")
        ] = None,
        power_kw: Annotated[float | None, typer.Option("--power-kw", help="Charging power, kW (ready-by).")] = None,
        config: Annotated[
            Path | None,
            typer.Option(
                "--config",
                "-c",
                help="Take defaults (cap, levels, zone, policy) and the all-in price formula from this config.",
            ),
        ] = None,
    ) -> None:
        """Explain what standalone mode would charge, slot by slot, for a price file."""
        from rich.console import Console

        settings = optional_config(config, registry)
        base = settings.standalone if settings is not None else StandaloneSettings()
        formula = AllInPrice.of(getattr(settings, "prices", None))
        try:
            checked = StandaloneSettings(
                price_threshold=_cap(threshold, base.price_threshold),
                top_x_charge_count=top_x if top_x is not None else base.top_x_charge_count,
            )
        except ValueError as exc:
            lines = str(exc).splitlines()
            fail(lines[0] + ": " + "; ".join(lines[1:3]))
        zone = _zone(timezone or (settings.timezone if settings is not None else machine_timezone()))
        flags_given = any(value is not None for value in (ready_by, energy_kwh, power_kw))
        name = policy or (READY_BY_POLICY if flags_given else base.policy)
        if name not in registry.policies:
            fail(f"standalone policy {name!r} not found; known: {', '.join(sorted(registry.policies))}")
        when = _when(now, zone)
        inputs = None
        if name == READY_BY_POLICY or flags_given:
            inputs = ready_by_inputs(
                ready_by=ready_by, energy_kwh=energy_kwh, power_kw=power_kw, base=base, zone=zone, now=when
            )
        try:
            document = build_plan(
                registry.policies[name],
                prices,
                threshold=checked.price_threshold,
                top_x=checked.top_x_charge_count,
                zone=zone,
                now=when,
                ready_by=inputs,
                formula=formula,
            )
        except EnergyAgentError as exc:
            fail(str(exc), code=1)
        print_plan(document, as_json=as_json, chart=chart, console=Console(width=120), formula=formula)
