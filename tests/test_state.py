"""Persistence: atomic writes, round trips, corrupt and unwritable state files."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from energy_agent.api.domain import OperationMode, Period, Schedule, ScheduleSource
from energy_agent.api.errors import StateError
from energy_agent.runtime.state import AgentState, DeviceRecord, StateStore
from energy_agent.testing.clock import ManualClock

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def sample_state() -> AgentState:
    schedule = Schedule(
        periods=(Period(T0, T0 + timedelta(hours=1)), Period(T0 + timedelta(hours=3), T0 + timedelta(hours=4), 10)),
        source=ScheduleSource.HEMS,
        max_current_a=16,
        expires_at=T0 + timedelta(hours=6),
        command_id="c-1",
    )
    return AgentState(
        operation_mode=OperationMode.HEMS,
        overrides={"standalone.price_threshold": 0.2},
        devices={"charge-amps/1": DeviceRecord(schedule=schedule, last_hems_command_at=T0, last_command_id="c-1")},
    )


def test_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state", ManualClock(T0))
    store.save(sample_state())
    assert store.load() == sample_state()
    assert not [p for p in (tmp_path / "state").iterdir() if p.name.startswith(".state-")], "temp file left behind"


def test_missing_file_is_empty_state(tmp_path: Path) -> None:
    assert StateStore(tmp_path, ManualClock(T0)).load() == AgentState()


@pytest.mark.parametrize("content", ["{not json", '{"format": 99}', '{"format": 1, "operation_mode": "turbo"}', "[]"])
def test_corrupt_file_is_moved_aside(tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "state.json").write_text(content)
    store = StateStore(tmp_path, ManualClock(T0))
    assert store.load() == AgentState(lost=True)  # empty, and known to be lost (read-back takes up what devices hold)
    aside = tmp_path / "state.json.corrupt-20261124T120000Z"
    assert aside.read_text() == content
    assert not (tmp_path / "state.json").exists()
    assert "corrupt" in caplog.text and str(aside) in caplog.text


def test_replace_is_atomic_old_file_intact_when_write_fails(tmp_path: Path) -> None:
    store = StateStore(tmp_path, ManualClock(T0))
    store.save(sample_state())
    before = (tmp_path / "state.json").read_text()
    if os.geteuid() == 0:
        # root ignores directory permissions; a file in the way of the temp dir is a portable failure
        store.state_dir = tmp_path / "state.json" / "sub"
    else:
        tmp_path.chmod(0o500)
    try:
        with pytest.raises(StateError, match="cannot write state"):
            store.save(AgentState())
        assert store.last_error is not None
    finally:
        tmp_path.chmod(0o700)
    assert (tmp_path / "state.json").read_text() == before
    assert json.loads(before)["operation_mode"] == "hems"
