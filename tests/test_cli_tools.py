"""The CLI tools people use around the agent: plan, contracts, hems (bad input here; good paths in the docs tests)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from energy_agent.app.plugins import ENTRY_POINT_GROUP, get_plugin_manager
from energy_agent.cli.main import build_app
from energy_agent.testing import free_port

EXAMPLES = Path(__file__).parent.parent / "examples"
CONTRACTS = Path(__file__).parent.parent / "contracts" / "hems" / "v1" / "examples"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(get_plugin_manager()), list(args))
    return result.exit_code, result.output


def test_plan_json_has_the_product_shape() -> None:
    code, output = run(
        "plan", "--prices", str(EXAMPLES / "prices.json"), "--timezone", "Europe/Amsterdam",
        "--now", "2026-11-25T08:00", "--json", "--threshold", "0.2", "--top-x", "4",
    )  # fmt: skip
    assert code == 0, output
    document = json.loads(output)
    assert set(document) == {"policy", "timezone", "threshold", "top_x", "periods", "energy", "warnings", "days"}
    assert document["energy"] is None
    day_periods = [period for day in document["days"] for period in day["periods"]]
    assert document["periods"] == day_periods  # none touch across midnight in this file, so merging keeps them
    assert (document["timezone"], document["threshold"], document["top_x"]) == ("Europe/Amsterdam", 0.2, 4)
    day = document["days"][0]
    assert set(day) == {
        "date", "threshold_active", "excluded_by_threshold", "no_eligible_slots", "levels", "slots", "periods",
    }  # fmt: skip
    assert len(day["levels"]) == 4
    assert all(s["price"] <= 0.2 for s in day["slots"] if s["status"] == "selected")


def test_plan_without_a_cap_and_bad_inputs() -> None:
    code, output = run("plan", "--prices", str(EXAMPLES / "prices.json"), "--threshold", "none", "--json")
    assert code == 0
    assert json.loads(output)["threshold"] is None
    assert run("plan", "--prices", str(EXAMPLES / "prices.json"), "--threshold", "cheap")[0] == 2
    assert run("plan", "--prices", str(EXAMPLES / "prices.json"), "--top-x", "0")[0] == 2
    assert run("plan", "--prices", str(EXAMPLES / "prices.json"), "--timezone", "Mars/Olympus")[0] == 2
    code, output = run("plan", "--prices", "/nonexistent/prices.json")
    assert code == 1
    assert "not found" in output


def test_contracts_validate_answers_with_paths_and_exit_codes() -> None:
    assert (
        run("contracts", "validate", "hems/v1/schedule-set", str(CONTRACTS / "valid" / "schedule-set.proposal.json"))[0]
        == 0
    )
    code, output = run(
        "contracts",
        "validate",
        "hems/v1/schedule-set",
        str(CONTRACTS / "invalid" / "schedule-set.typo-max_curent.json"),
    )
    assert code == 1
    assert "max_curent" in output
    assert run("contracts", "show", "hems/v1/nope")[0] == 2


def test_hems_commands_refuse_a_bad_topic_id_before_touching_the_broker() -> None:
    code, output = run("hems", "set", "1/#", "--broker", "127.0.0.1:1")
    assert code == 2
    assert "topic id" in output
    assert run("hems", "clear", "a b", "--broker", "127.0.0.1:1")[0] == 2
    code, output = run("hems", "clear", "1", "--broker", "127.0.0.1:1", "--timeout", "1")
    assert code == 1
    assert "error:" in output


def test_hems_commands_say_when_nothing_listens_on_the_broker_address() -> None:
    port = str(free_port())
    for args in (["--device-type", "charge-amps"], []):
        code, output = run("hems", "clear", "1", "--broker", f"127.0.0.1:{port}", "--timeout", "2", *args)
        assert code == 1
        assert f"error: cannot reach the broker 127.0.0.1:{port}:" in output


def documented_rule(prices: list[dict[str, Any]], cap: float, top_x: int, zone: ZoneInfo) -> dict[str, list[list[str]]]:
    """The proposal's rule, written out independently: per local day, the slots priced at the `top_x` lowest
    unique price levels (4 decimals, half up) at or below the cap, merged into periods."""
    by_day: dict[str, list[dict[str, Any]]] = {}
    for slot in prices:
        by_day.setdefault(datetime.fromisoformat(slot["start"]).astimezone(zone).date().isoformat(), []).append(slot)
    periods: dict[str, list[list[str]]] = {}
    for day, slots in by_day.items():
        level = {s["start"]: Decimal(repr(s["price"])).quantize(Decimal("0.0001"), ROUND_HALF_UP) for s in slots}
        chosen = sorted({level[s["start"]] for s in slots if s["price"] <= cap})[:top_x]
        runs: list[list[str]] = []
        for slot in sorted(slots, key=lambda s: datetime.fromisoformat(s["start"])):
            if level[slot["start"]] not in chosen or slot["price"] > cap:
                continue
            start = datetime.fromisoformat(slot["start"]).astimezone(zone).isoformat()
            end = datetime.fromisoformat(slot["end"]).astimezone(zone).isoformat()
            if runs and runs[-1][1] == start:
                runs[-1][1] = end
            else:
                runs.append([start, end])
        periods[day] = runs
    return periods


PLAN_ARGS = ["plan", "--prices", str(EXAMPLES / "prices.json"), "--json", "--timezone", "Europe/Amsterdam"]


def check_unique_levels_plan(document: dict[str, Any]) -> None:
    assert document["policy"] == "unique-price-levels"
    prices = json.loads((EXAMPLES / "prices.json").read_text())
    expected = documented_rule(prices, 0.25, 16, ZoneInfo("Europe/Amsterdam"))
    assert {day["date"]: [[p["start"], p["end"]] for p in day["periods"]] for day in document["days"]} == expected


def test_plan_without_flags_plans_with_unique_price_levels_with_every_plugin_installed() -> None:
    """The user's command, as a process, in this environment where every plugin of the repository is installed."""
    installed = json.loads(
        subprocess.run(
            [str(Path(sys.executable).with_name("energy-agent")), "plugins", "--json"],
            capture_output=True, text=True, check=True, env=clean_env(),
        ).stdout
    )  # fmt: skip
    assert {"charge-amps", "switched-load"} <= set(installed["device_types"])
    done = subprocess.run(
        [str(Path(sys.executable).with_name("energy-agent")), *PLAN_ARGS],
        capture_output=True, text=True, check=False, env=clean_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    check_unique_levels_plan(json.loads(done.stdout))


def test_plan_default_does_not_depend_on_the_order_plugins_load_in() -> None:
    entry_points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    assert len(entry_points) >= 2
    for order in (entry_points, list(reversed(entry_points))):
        pm = get_plugin_manager(load_entry_points=False)
        for entry_point in order:
            pm.register(entry_point.load(), name=entry_point.name)
        result = CliRunner().invoke(build_app(pm), PLAN_ARGS)
        assert result.exit_code == 0, result.output
        check_unique_levels_plan(json.loads(result.output))
    policy_given = run(*PLAN_ARGS, "--policy", "cheapest-hours")
    assert json.loads(policy_given[1])["policy"] == "cheapest-hours"


def clean_env() -> dict[str, str]:
    """The environment of a user: no plugin filters or config from the caller."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ENERGY_AGENT_")}
