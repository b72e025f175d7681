"""`energy-agent demo`: the whole product in one command, with nothing else installed.

An embedded MQTT broker (or `--broker HOST:PORT`), a simulated HALO with a car plugged in (behind the
Charge Amps cloud simulator, or with `--ocpp` an OCPP charge point connected to the agent's central system),
a realistic price curve for today and tomorrow, and a real agent; the terminal shows the mode, the plan and
why, the charger's status, and every HEMS command with its result.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from energy_agent.api import SystemClock
from energy_agent.testing import (
    AgentView,
    EmbeddedBroker,
    curve_json,
    machine_timezone,
    plugin_registry,
    running_agent,
    sample_curve,
)
from energy_agent_chargeamps.demo_chargers import CloudCharger, DemoCharger, OcppCharger

DEVICE_KEY = "charge-amps/1"
STATUS_FIELDS = ("state", "current_power_kw", "session_energy_kwh", "schedule_source", "schedule_active",
                 "next_period_start", "next_period_end", "last_command_result", "last_error")  # fmt: skip


class DemoView:
    """What the terminal shows; built from the running agent's view and the answers on the broker."""

    def __init__(self, agent: AgentView, broker: str, fallback: str, charger: DemoCharger, zone: ZoneInfo) -> None:
        self.agent = agent
        self.broker = broker
        self.fallback = fallback
        self.charger = charger
        self.zone = zone

    @property
    def commands(self) -> list[dict[str, Any]]:
        """The last HEMS answers, newest first."""
        return [entry.answer for entry in self.agent.recent_commands()[:8]]

    def render(self) -> Group:
        """The whole screen."""
        agent = self.agent
        header = Table.grid(padding=(0, 2))
        header.add_row(
            f"[b]mode[/b] {agent.mode.value}",
            f"[b]broker[/b] {self.broker} ({'connected' if agent.mqtt.connected else 'not connected'})",
            f"[b]HEMS heard[/b] {'yes' if agent.hems_connected else 'no'}",
            f"[b]fallback[/b] {self.fallback}",
        )
        parts: list[Any] = [Panel(header, title="energy-agent demo")]
        charger = next((device for device in agent.devices() if device.key == DEVICE_KEY), None)
        if charger is not None:
            status = Table.grid(padding=(0, 2))
            for key in STATUS_FIELDS:
                status.add_row(key, str(charger.status.get(key)))
            holds = self.charger.holds(self.zone)
            if holds is not None:
                status.add_row("on the charger", holds)
            parts.append(Panel(status, title=self.charger.title))
            plan = agent.plan(DEVICE_KEY)
            if plan is not None:
                parts.append(Panel(self._plan_table(plan.explanation.get("days", [])), title=self._plan_title()))
            elif charger.status.get("warnings"):
                parts.append(Panel("\n".join(charger.status["warnings"]), title="plan"))
        log = Table("command", "id", "accepted", "errors / warnings", expand=True)
        for answer in self.commands:
            notes = answer.get("errors") or answer.get("warnings") or []
            log.add_row(
                str(answer.get("command", answer.get("operation_mode", "mode"))),
                str(answer.get("command_id")),
                "yes" if answer.get("accepted") else "[red]no[/red]",
                "; ".join(f"{n['path']}: {n['message']}" for n in notes)[:120],
            )
        parts.append(Panel(log, title="HEMS commands and results"))
        return Group(*parts)

    def _plan_title(self) -> str:
        params = self.agent.standalone
        cap = "no cap" if params.price_threshold is None else f"cap {params.price_threshold} EUR/kWh"
        return f"standalone plan ({cap}, top {params.top_x_charge_count} price levels)"

    @staticmethod
    def _plan_table(days: list[dict[str, Any]]) -> Table:
        table = Table("day", "charge periods", "levels", "above cap", "warning", expand=True)
        for day in days:
            periods = ", ".join(f"{p['start'][11:16]}–{p['end'][11:16]}" for p in day["periods"]) or "none"
            table.add_row(
                day["date"],
                periods,
                str(len(day["levels"])),
                str(day["excluded_by_threshold"]),
                "no slot under the cap" if day["no_eligible_slots"] else "",
            )
        return table


async def run_demo(
    *, broker: str | None = None, ocpp: bool = False, duration_s: float | None = None, console: Console | None = None
) -> dict[str, Any]:
    """Run the demo until Ctrl-C (or `duration_s`); returns a summary for tests.

    With `ocpp` the charger is an OCPP charge point connected to the agent (`chargeamps: {api: ocpp}`) rather
    than a HALO behind the Charge Amps cloud; the topics and the commands to try are the same.
    """
    console = console or Console()
    zone_name = machine_timezone()
    zone = ZoneInfo(zone_name)
    clock = SystemClock()
    today = clock.now().astimezone(zone).date()
    embedded: EmbeddedBroker | None = None
    protocol: Literal["5", "3.1.1"]
    if broker is None:
        embedded = EmbeddedBroker()
        port = await embedded.start()
        host, protocol = "127.0.0.1", "3.1.1"  # the embedded broker speaks MQTT 3.1.1 only
    else:
        host, _, port_text = broker.rpartition(":")
        port, protocol = int(port_text), "5"
    simulated: DemoCharger = OcppCharger(clock) if ocpp else CloudCharger(clock)
    section = await simulated.start()
    with tempfile.TemporaryDirectory(prefix="energy-agent-demo-") as workdir:
        prices = Path(workdir) / "prices.json"
        curve = sample_curve([today, today + timedelta(days=1)], zone)
        prices.write_text(json.dumps(curve_json(curve, zone)))
        document = {
            "operation_mode": "standalone",
            "timezone": zone_name,
            "state_dir": str(Path(workdir) / "state"),
            "mqtt": {"host": host, "port": port, "protocol": protocol, "client_id": "energy-agent-demo"},
            "prices": {"source": "file", "path": str(prices)},
            "health": {"enabled": False},
            "web": {"port": 0},
            "chargeamps": section,
        }
        where = f"{host}:{port}"
        period_start = (clock.now() + timedelta(minutes=2)).astimezone(zone).replace(second=0, microsecond=0)
        period_end = period_start + timedelta(hours=1)
        try_lines = [
            f"energy-agent hems mode hems --broker {where}",
            f"energy-agent hems set 1 --period {period_start.isoformat()}/{period_end.isoformat()} "
            f"--max-current 10 --broker {where}",
            f"energy-agent hems clear 1 --broker {where}",
            f"energy-agent hems mode standalone --broker {where}",
        ]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            async with running_agent(document, registry=plugin_registry(entry_points=True), clock=clock) as agent:
                view = DemoView(agent.view, where, fallback="none", charger=simulated, zone=zone)
                # Printed once, unwrapped, above the live view: each line can be copied whole into another terminal.
                if agent.web_url is not None:
                    console.print(f"The owner's web page: {agent.web_url}", soft_wrap=True, highlight=False)
                console.print("Try this in another terminal (each line as it is):", style="bold")
                for line in try_lines:
                    console.print(line, soft_wrap=True, markup=False, highlight=False)
                with Live(view.render(), console=console, refresh_per_second=2, transient=False) as live:
                    deadline = None if duration_s is None else loop.time() + duration_s
                    while not stop.is_set() and (deadline is None or loop.time() < deadline):
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), timeout=1.0)
                        live.update(view.render())
                charger = next((d for d in agent.view.devices() if d.key == DEVICE_KEY), None)
                commands = view.commands
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            await simulated.stop()
            if embedded is not None:
                await embedded.stop()
        return {
            "broker": where,
            "schedule_writes": simulated.writes(),
            "schedule_source": charger.status["schedule_source"] if charger else None,
            "commands": commands,
        }
