"""Issue 18: a HEMS written for the charge-amps-monitor add-on drives the agent unchanged (contract 1.3).

A real Mosquitto, the Charge Amps simulator over real HTTP and a running agent. The add-on's payload shapes (no
`source`, the HEMS named in `source_id`, times without an offset) are accepted and reach the simulated cloud
exactly; the payloads of the guide's section on moving from the add-on produce the cloud schedules it shows.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from energy_agent.testing.mosquitto import Mosquitto as Broker
from energy_agent.testing.recorder import Recorder
from tests.world import AMS, BASE, CP, PUT_ROUTE, World, eventually, world

# Wednesday 2026-11-25 10:00 in Amsterdam; the charger's week starts Monday 2026-11-23 00:00 local.
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
WEEK_START_UTC = "2026-11-22T23:00:00Z"
GUIDE = Path(__file__).resolve().parents[1] / "docs" / "hems-integration.md"
GUIDE_SECTION = "## Moving from the charge-amps-monitor add-on"
CHARGER_DEVICE = "homeassistant/device/energy_agent_charge-amps_1/config"
SOURCE_ID = "battery-optimizer"


def local(hours: float) -> str:
    """NOW + hours as the add-on's HEMS wrote times: local, without an offset."""
    return (NOW + timedelta(hours=hours)).replace(tzinfo=None).isoformat()


def offset_s(hours: float) -> int:
    """Seconds from the week start (Monday 00:00 local) to NOW + hours."""
    return int(2 * 86400 + 10 * 3600 + hours * 3600)


def held(w: World) -> dict[str, Any]:
    """The schedule the simulated cloud holds for connector 1, as the vendor's JSON."""
    stored: dict[str, Any] = w.sim.schedules[(CP, 1)].to_json()
    return stored


def saved_source_id(tmp_path: Path) -> str | None:
    """The `source_id` of the schedule in force in the agent's state file, None when there is none."""
    state = json.loads((tmp_path / "state" / "state.json").read_text())
    schedule = state["devices"]["charge-amps/1"]["schedule"]
    return None if schedule is None else schedule["source_id"]  # type: ignore[no-any-return]


@pytest.fixture
async def w(broker: Broker, recorder: Recorder, tmp_path: Path) -> AsyncIterator[World]:
    async with world(broker, recorder, tmp_path, NOW) as instance:
        await instance.start_agent()
        yield instance


# Each shape the add-on documented: (payload, the weekly periods the cloud must hold, its validTo).
SHAPES = [
    pytest.param(
        {"periods": [{"start": local(2), "end": local(4), "max_current": 10}], "expires_at": local(12),
         "source_id": SOURCE_ID},
        [(offset_s(2), offset_s(4), 10.0)], "2026-11-25T21:00:00Z",
        id="period-current-and-expiry",
    ),
    pytest.param(
        {"periods": [{"start": local(2), "end": local(4)}, {"start": local(6), "end": local(7.5)}],
         "source_id": SOURCE_ID},
        [(offset_s(2), offset_s(4), 16.0), (offset_s(6), offset_s(7.5), 16.0)], None,
        id="no-current-no-expiry",
    ),
    pytest.param(
        {"periods": [{"start": local(2), "end": local(4)}, {"start": local(28), "end": local(29), "max_current": 8}],
         "expires_at": local(30), "source_id": SOURCE_ID},
        [(offset_s(2), offset_s(4), 16.0), (offset_s(28), offset_s(29), 8.0)], "2026-11-26T15:00:00Z",
        id="mixed-currents",
    ),
    pytest.param(
        {"periods": [{"start": local(2), "end": local(4)}], "expires_at": local(12)},
        [(offset_s(2), offset_s(4), 16.0)], "2026-11-25T21:00:00Z",
        id="without-source-id",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("payload", "periods", "valid_to"), SHAPES)
async def test_a_predecessor_payload_reaches_the_cloud_exactly(
    w: World, payload: dict[str, Any], periods: list[tuple[int, int, float]], valid_to: str | None
) -> None:
    result = await w.command(payload)
    assert (result["accepted"], result["reason"], result["errors"]) == (True, None, [])
    assert {warning["message"].split(";")[0] for warning in result["warnings"]} == {"no UTC offset"}
    assert result["command_id"] is None and result["contract_version"] == "1.3"
    stored = held(w)
    assert stored["startOfSchedule"] == WEEK_START_UTC
    assert stored["validTo"] == valid_to
    assert stored["defaultCurrent"] == 0
    assert [(p["from"], p["to"], p["maxCurrent"]) for p in stored["schedulePeriods"]] == periods
    # the charger follows it: each asked span at its current, nothing just outside
    schedule = w.sim.schedules[(CP, 1)]
    week_start = datetime.fromisoformat(WEEK_START_UTC)
    for start_s, end_s, current_a in periods:
        assert schedule.current_at(week_start + timedelta(seconds=start_s)) == current_a
        assert schedule.current_at(week_start + timedelta(seconds=end_s - 1)) == current_a
        assert schedule.current_at(week_start + timedelta(seconds=end_s)) == 0.0
    await eventually(lambda: w.status()["last_command_result"] == "accepted")
    status = w.status()
    assert status["schedule_source"] == "hems"
    assert status["hems_source_id"] == payload.get("source_id")
    assert status["next_period_start"] == (NOW + timedelta(hours=2)).isoformat()
    assert w.check_contracts() > 0


async def test_the_source_id_is_shown_kept_across_a_restart_and_in_home_assistant(w: World, tmp_path: Path) -> None:
    payload = {"periods": [{"start": local(2), "end": local(4)}], "expires_at": local(12), "source_id": SOURCE_ID}
    assert (await w.command(payload))["accepted"]
    await eventually(lambda: w.status()["hems_source_id"] == SOURCE_ID)
    await eventually(lambda: saved_source_id(tmp_path) == SOURCE_ID)  # written within the save window
    writes = len(w.sim.requests(PUT_ROUTE))
    await w.stop_agent()
    statuses = len(w.recorder.payloads(f"{BASE}/status"))
    await w.start_agent()
    await eventually(lambda: len(w.recorder.payloads(f"{BASE}/status")) > statuses)
    assert w.status()["hems_source_id"] == SOURCE_ID and w.status()["schedule_source"] == "hems"
    assert w.agent is not None and w.agent.runtimes["charge-amps/1"].record.schedule is not None
    assert w.agent.runtimes["charge-amps/1"].record.schedule.source_id == SOURCE_ID
    # Home Assistant's HEMS source sensor, on the charger's device, reads it from that status
    device = json.loads(w.recorder.payloads(CHARGER_DEVICE)[-1])
    sensor = device["cmps"]["hems_source_id"]
    assert (sensor["p"], sensor["name"]) == ("sensor", "HEMS source")
    template = ImmutableSandboxedEnvironment(undefined=StrictUndefined).from_string(sensor["value_template"])
    assert template.render(value_json=w.status()) == SOURCE_ID
    # the same plan from another HEMS name: no second cloud write, but the name in force changes
    renamed = await w.command({**payload, "source_id": "solar-first"})
    assert renamed["accepted"] and len(w.sim.requests(PUT_ROUTE)) == writes
    await eventually(lambda: w.status()["hems_source_id"] == "solar-first")
    # a clear leaves no schedule and so no name
    cleared = await w.command(b"", topic=f"{BASE}/schedule/clear")
    assert cleared["accepted"]
    await eventually(lambda: w.status()["hems_source_id"] is None)
    assert template.render(value_json=w.status()) == "None"  # unknown in Home Assistant


REFUSED = [
    pytest.param(
        {"source": SOURCE_ID}, "$.source", "'hems' was expected; a HEMS names itself in source_id", id="source-not-hems"
    ),
    pytest.param({"source_id": ""}, "$.source_id", "'' should be non-empty", id="source-id-empty"),
    pytest.param({"source_id": "x" * 65}, "$.source_id", f"'{'x' * 65}' is too long", id="source-id-65-chars"),
]


@pytest.mark.parametrize(("change", "path", "message"), REFUSED)
async def test_what_the_contract_still_refuses(w: World, change: dict[str, Any], path: str, message: str) -> None:
    first = {"periods": [{"start": local(2), "end": local(4)}], "expires_at": local(12), "source_id": SOURCE_ID}
    assert (await w.command(first))["accepted"]
    before = held(w)
    writes = len(w.sim.writes())
    result = await w.command({**first, "periods": [{"start": local(5), "end": local(6)}], **change})
    assert (result["accepted"], result["reason"], result["retry"]) == (False, "invalid", False)
    assert result["errors"] == [{"path": path, "message": message}]
    assert len(w.sim.writes()) == writes and held(w) == before
    await eventually(lambda: w.status()["last_command_result"] == "refused")
    assert w.status()["hems_source_id"] == SOURCE_ID  # the schedule in force stays, with its name


async def test_a_source_id_of_64_characters_is_kept_whole(w: World) -> None:
    name = "h" * 64
    result = await w.command({"periods": [{"start": local(2), "end": local(4)}], "source_id": name})
    assert result["accepted"]
    await eventually(lambda: w.status()["hems_source_id"] == name)


def guide_examples() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The (payload, cloud schedule) pairs of the guide's section on the add-on: JSON blocks, in order."""
    section = GUIDE.read_text(encoding="utf-8").split(GUIDE_SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = [json.loads(part.split("\n```", 1)[0]) for part in section.split("```json\n")[1:]]
    pairs = [(blocks[i], blocks[i + 1]) for i in range(len(blocks) - 1) if "periods" in blocks[i]]
    assert len(pairs) == 2, "the guide shows the Monday and the week's-end examples"
    assert all("schedulePeriods" in cloud for _, cloud in pairs)
    return pairs


@pytest.mark.parametrize(("payload", "cloud"), guide_examples(), ids=["monday-local", "across-the-week-end"])
async def test_the_guides_examples_reach_the_cloud_as_shown(
    w: World, payload: dict[str, Any], cloud: dict[str, Any]
) -> None:
    assert (await w.command(payload))["accepted"]
    stored = held(w)
    assert {key: stored[key] for key in cloud} == cloud
    assert w.writes(PUT_ROUTE)[-1]["schedulePeriods"] == cloud["schedulePeriods"]
