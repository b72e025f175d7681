"""`energy-agent plan --ready-by …`: the user's command as a process, the JSON, the table, the chart, bad input."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from energy_agent.app.plugins import get_plugin_manager
from energy_agent.cli.main import build_app
from tests.test_plan_report import png_size

EXAMPLES = Path(__file__).parent.parent / "examples"
PRICES = str(EXAMPLES / "prices.json")
ARGS = ["plan", "--prices", PRICES, "--timezone", "Europe/Amsterdam", "--now", "2026-11-25T18:00"]
OWNER = [*ARGS, "--ready-by", "2026-11-26T07:00", "--energy-kwh", "22", "--power-kw", "11", "--threshold", "0.25"]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(get_plugin_manager()), list(args))
    return result.exit_code, result.output


def cheapest_quarters(count: int, cap: float) -> list[dict[str, str]]:
    """The `count` cheapest whole quarter hours of the example file between 18:00 and 07:00, earlier first on ties,
    merged: the plan for an energy that fills exactly `count` quarters."""
    window = [
        slot for slot in json.loads(Path(PRICES).read_text())
        if "2026-11-25T18:00:00+01:00" <= slot["start"] < "2026-11-26T07:00:00+01:00" and slot["price"] <= cap
    ]  # fmt: skip
    chosen = sorted(sorted(window, key=lambda slot: (slot["price"], slot["start"]))[:count], key=lambda s: s["start"])
    merged: list[dict[str, str]] = []
    for slot in chosen:
        if merged and merged[-1]["end"] == slot["start"]:
            merged[-1]["end"] = slot["end"]
        else:
            merged.append({"start": slot["start"], "end": slot["end"]})
    return merged


def test_the_owners_command_as_a_process() -> None:
    """22 kWh by 07:00 under 0.25 EUR/kWh at 11 kW: 8 quarter hours of 2.75 kWh, the cheapest in the window."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGY_AGENT_")}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("energy-agent")), *OWNER, "--json"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["policy"] == "ready-by"
    assert document["periods"] == cheapest_quarters(8, 0.25)
    energy = document["energy"]
    assert energy["needed_kwh"] == 22 and energy["planned_kwh"] == 22 and energy["missing_kwh"] == 0
    assert energy["ready_by"] == "2026-11-26T07:00:00+01:00"
    slots = [slot for day in document["days"] for slot in day["slots"]]
    selected = [slot for slot in slots if slot["status"] == "selected"]
    assert energy["cost_eur"] == round(sum(slot["price"] * 2.75 for slot in selected), 4)
    assert {slot["status"] for slot in slots} == {"selected", "above_threshold", "outside_window", "not_needed"}
    assert all(day["levels"] == [] for day in document["days"])
    assert document["warnings"] == []


def test_a_clock_time_is_the_next_departure() -> None:
    code, output = run(*ARGS, "--ready-by", "07:00", "--energy-kwh", "22", "--power-kw", "11", "--json")
    assert code == 0, output
    assert json.loads(output)["energy"]["ready_by"] == "2026-11-26T07:00:00+01:00"


def test_a_cap_too_low_shows_the_shortfall() -> None:
    code, output = run(*OWNER[:-1], "0.12", "--json")

    assert code == 0, output
    document = json.loads(output)
    energy = document["energy"]
    assert energy["missing_kwh"] > 0
    assert energy["planned_kwh"] + energy["missing_kwh"] == 22
    assert document["periods"] == cheapest_quarters(round(energy["planned_kwh"] / 2.75), 0.12)
    assert "slots above the 0.12 EUR/kWh cap are not used" in document["warnings"][0]


def test_the_table_shows_the_energy_summary_and_the_chart_the_departure(tmp_path: Path) -> None:
    code, output = run(*OWNER[:-1], "0.12", "--chart", str(tmp_path / "plan.png"))

    assert code == 0, output
    assert "policy: ready-by" in output
    assert "ready by 2026-11-26 07:00 +0100" in output
    assert "needed kWh" in output and "missing kWh" in output and "cost EUR" in output
    assert "warning: " in output and "cap are not used" in output
    assert "levels:" not in output
    assert "outside_window" in output and "selected" in output  # short: nothing eligible is left not_needed
    assert "not_needed" not in output
    assert png_size(tmp_path / "plan.png") == (1200, 450)


def test_the_default_policy_gets_periods_and_no_energy() -> None:
    code, output = run(*ARGS, "--json")
    assert code == 0, output
    document = json.loads(output)
    assert document["policy"] == "unique-price-levels"
    assert document["energy"] is None
    assert document["periods"]
    code, output = run(*OWNER, "--policy", "unique-price-levels", "--json")
    assert code == 0, output
    assert (json.loads(output)["policy"], json.loads(output)["energy"]) == ("unique-price-levels", None)


def test_missing_or_bad_inputs_exit_2_with_one_line_each() -> None:
    code, output = run(*ARGS, "--energy-kwh", "22")
    assert code == 2
    assert output.splitlines() == [
        "error: --ready-by is needed for policy ready-by (e.g. 2026-11-26T07:00, or 07:00 for the next one)",
        "error: --power-kw is needed for policy ready-by (the charging power in kW, e.g. 11)",
    ]
    code, output = run(*ARGS, "--policy", "ready-by")
    assert code == 2 and "--energy-kwh is needed" in output
    code, output = run(*ARGS, "--ready-by", "tomorrow", "--energy-kwh", "22", "--power-kw", "11")
    assert (code, output.strip()) == (2, "error: --ready-by 'tomorrow': not an ISO 8601 time (e.g. 2026-11-26T07:00) "
                                         "nor HH:MM")  # fmt: skip
    code, output = run(*ARGS, "--ready-by", "07:00", "--energy-kwh", "-1", "--power-kw", "0")
    assert code == 2
    assert "error: --energy-kwh -1.0: expected a number of kWh at or above 0" in output
    assert "error: --power-kw 0.0: expected a number of kW above 0" in output


def test_the_config_supplies_the_policy_and_its_inputs(tmp_path: Path) -> None:
    config = tmp_path / "energy-agent.yaml"
    config.write_text(
        "timezone: Europe/Amsterdam\nstandalone:\n  policy: ready-by\n  ready_by: '07:00'\n  energy_kwh: 22\n"
        "  charge_power_kw: 11\n",
        encoding="utf-8",
    )
    code, output = run("plan", "--prices", PRICES, "--now", "2026-11-25T18:00", "--config", str(config), "--json")

    assert code == 0, output
    document: dict[str, Any] = json.loads(output)
    assert document["policy"] == "ready-by"
    assert document["periods"] == cheapest_quarters(8, 0.25)
    departure = datetime.fromisoformat(document["energy"]["ready_by"])
    assert departure - datetime.fromisoformat("2026-11-25T18:00:00+01:00") == timedelta(hours=13)


def test_the_documented_command_prints_the_documented_plan() -> None:
    page = (Path(__file__).parent.parent / "docs" / "ready-by.md").read_text(encoding="utf-8")
    command = page.split("```sh\n", 1)[1].split("\n```", 1)[0]
    shown = json.loads(page.split("```json\n", 1)[1].split("\n```", 1)[0])
    words = shlex.split(command)
    assert words[:2] == ["energy-agent", "plan"]

    code, output = run(*[word.replace("examples/", f"{EXAMPLES}/") for word in words[1:]])

    assert code == 0, output
    printed = json.loads(output)
    assert {key: printed[key] for key in shown} == shown
