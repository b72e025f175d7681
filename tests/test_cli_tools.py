"""The CLI tools people use around the agent: plan, contracts, hems (bad input here; good paths in the docs tests)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from energy_agent.app.plugins import get_plugin_manager
from energy_agent.cli.main import build_app

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
    assert set(document) == {"timezone", "threshold", "top_x", "days"}
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
