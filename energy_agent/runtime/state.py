"""Persistent agent state: one JSON file in `state_dir`, written atomically, read at start.

A corrupt or unreadable file is moved aside with a warning and the agent starts from empty state.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from energy_agent.api.clock import Clock
from energy_agent.api.domain import OperationMode, Schedule, isoformat
from energy_agent.api.errors import StateError

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
FORMAT_VERSION = 1


@dataclass
class DeviceRecord:
    """What the agent remembers of one device across restarts."""

    schedule: Schedule | None = None
    """The schedule in force on the device, as last accepted by it."""
    last_hems_command_at: datetime | None = None
    last_command_id: str | None = None
    last_command_digest: str | None = None
    """SHA-256 of the last command's payload: a repeated id only replays the answer for the same payload."""
    last_result: dict[str, Any] | None = None
    """The result payload of the last applied command, answered again for a duplicate (replaced, never changed in
    place)."""
    known: bool = False
    """The agent knows what it last wrote to the device (False for a new record, e.g. after a lost state file)."""
    lost: bool = False
    """Created after the state file was found unreadable (not saved): the device may hold a plan of the agent's."""
    in_flight: dict[str, Any] | None = None
    """A write started and not confirmed (`{"schedule": ... or None}`), saved before the device is called, so that
    a start after a kill during the write reads the device back and learns whether it landed."""
    charge_now_since: datetime | None = None
    """The owner pressed "charge now" then: the device charges at full power until the car is unplugged."""
    _encoded: str | None = field(default=None, init=False, repr=False, compare=False)

    def __setattr__(self, name: str, value: Any) -> None:
        # Any change makes the cached JSON stale; the state file of many devices re-encodes only changed records.
        object.__setattr__(self, name, value)
        if name != "_encoded":
            object.__setattr__(self, "_encoded", None)

    def encoded_line(self, key: str) -> str:
        """The record's line in the state file (`"key": {compact JSON}`), kept until the record changes."""
        if self._encoded is None:
            self._encoded = f"    {json.dumps(key)}: {_compact(self.to_json())}"
        return self._encoded

    def to_json(self) -> dict[str, Any]:
        """JSON form for the state file."""
        return {
            "schedule": self.schedule.to_json() if self.schedule else None,
            "last_hems_command_at": isoformat(self.last_hems_command_at),
            "last_command_id": self.last_command_id,
            "last_command_digest": self.last_command_digest,
            "last_result": self.last_result,
            "known": self.known,
            "in_flight": self.in_flight,
            "charge_now_since": isoformat(self.charge_now_since),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeviceRecord:
        """Inverse of `to_json`."""
        at = data.get("last_hems_command_at")
        charge_now = data.get("charge_now_since")
        return cls(
            schedule=Schedule.from_json(data["schedule"]) if data.get("schedule") else None,
            last_hems_command_at=datetime.fromisoformat(at) if at else None,
            last_command_id=data.get("last_command_id"),
            last_command_digest=data.get("last_command_digest"),
            last_result=data.get("last_result"),
            known=bool(data.get("known", True)),
            in_flight=data.get("in_flight"),
            charge_now_since=datetime.fromisoformat(charge_now) if charge_now else None,
        )


@dataclass
class AgentState:
    """Everything persisted: the mode, run-time setting overrides, and a record per device key."""

    operation_mode: OperationMode | None = None
    configured_mode: OperationMode | None = None
    """The config file's mode at the last start: a changed config file wins over a run-time switch."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Settings changed at run time (e.g. from Home Assistant), applied over the config file."""
    devices: dict[str, DeviceRecord] = field(default_factory=dict)
    discovery_nodes: list[str] = field(default_factory=list)
    """Home Assistant discovery node ids published so far, so that a removed device's entities are removed."""

    lost: bool = False
    """The state file existed but could not be read: what the agent had written is unknown (not saved)."""

    def device(self, key: str) -> DeviceRecord:
        """The record for `key`, created empty on first use."""
        return self.devices.setdefault(key, DeviceRecord(lost=self.lost))

    def to_json(self, *, with_devices: bool = True) -> dict[str, Any]:
        """JSON form for the state file (`with_devices=False`: without the device records)."""
        return {
            "format": FORMAT_VERSION,
            "operation_mode": self.operation_mode.value if self.operation_mode else None,
            "configured_mode": self.configured_mode.value if self.configured_mode else None,
            "overrides": self.overrides,
            "devices": {key: record.to_json() for key, record in sorted(self.devices.items())} if with_devices else {},
            "discovery_nodes": list(self.discovery_nodes),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentState:
        """Inverse of `to_json`; raises on anything malformed."""
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unknown state format {data.get('format') if isinstance(data, dict) else data!r}")
        mode = data.get("operation_mode")
        configured = data.get("configured_mode")
        return cls(
            operation_mode=OperationMode(mode) if mode else None,
            configured_mode=OperationMode(configured) if configured else None,
            overrides=dict(data.get("overrides") or {}),
            devices={key: DeviceRecord.from_json(value) for key, value in (data.get("devices") or {}).items()},
            discovery_nodes=[str(node) for node in data.get("discovery_nodes") or []],
        )


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(", ", ": "))


class StateStore:
    """Reads and atomically writes `state_dir/state.json`."""

    def __init__(self, state_dir: Path, clock: Clock) -> None:
        self.state_dir = state_dir
        self.path = state_dir / STATE_FILE
        self._clock = clock
        self.last_error: str | None = None

    def load(self) -> AgentState:
        """The saved state; empty when there is none; a corrupt file is moved aside."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return AgentState()
        except OSError as exc:
            log.warning("state file %s cannot be read (%s); starting from empty state", self.path, exc.strerror)
            return AgentState(lost=True)
        try:
            return AgentState.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            aside = self.path.with_name(f"{STATE_FILE}.corrupt-{self._clock.now():%Y%m%dT%H%M%SZ}")
            try:
                self.path.replace(aside)
                where = f"moved to {aside}"
            except OSError as move_exc:
                where = f"could not be moved aside ({move_exc.strerror})"
            log.warning("state file %s is corrupt (%s); %s; starting from empty state", self.path, exc, where)
            return AgentState(lost=True)

    def save(self, state: AgentState) -> None:
        """Write the state atomically (temp file + fsync + rename); raises StateError on failure."""
        self.write(self.encode(state))

    @staticmethod
    def encode(state: AgentState) -> bytes:
        """The state file's bytes: indented at the top, one line per device (done on the event loop: the state is
        not thread-safe).

        Each value is encoded by the C encoder (`json.dumps` without `indent`): fully indented, the file of a
        hundred devices took 11 ms to encode, most of the agent's time under a flood of commands.
        """
        document = state.to_json(with_devices=False)
        devices = sorted(state.devices.items())
        document["devices"] = {}
        lines = []
        for key in sorted(document):
            if key == "devices" and devices:
                inner = ",\n".join(record.encoded_line(name) for name, record in devices)
                lines.append(f'  "devices": {{\n{inner}\n  }}')
            else:
                lines.append(f"  {json.dumps(key)}: {_compact(document[key])}")
        return ("{\n" + ",\n".join(lines) + "\n}\n").encode()

    def write(self, payload: bytes, *, durable: bool = True) -> None:
        """Write encoded state atomically; safe to run in a worker thread. Raises StateError on failure.

        `durable=False` skips the fsync: the file then survives a killed process, not a lost machine."""
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".state-", suffix=".tmp", dir=self.state_dir)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(payload)
                    handle.flush()
                    if durable:
                        os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            self.last_error = f"cannot write state to {self.path}: {exc.strerror or exc}"
            raise StateError(self.last_error) from exc
        self.last_error = None


PERSIST_DELAY_S = 0.05
"""Changes within this real-time window are written together (it coalesces disk writes; it is not a schedule)."""


class StateSaver:
    """Keeps the state file in step with the state in memory: `changed()` after a change, `flush()` at the edges.

    Changes within PERSIST_DELAY_S are written together, in a worker thread, so a burst of commands costs one
    fsync, not one each. A write that fails is logged and kept in `store.last_error` (the health endpoint shows
    it); the agent keeps running with its state in memory and tries again at the next change.
    """

    def __init__(self, store: StateStore, state: AgentState) -> None:
        self.store = store
        self.state = state
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self._writing: asyncio.Future[None] | None = None

    def changed(self) -> None:
        """The state changed: write it soon (or now, when no event loop runs, e.g. in a tool)."""
        self._dirty = True
        if self._task is not None and not self._task.done():
            return
        try:
            self._task = asyncio.get_running_loop().create_task(self._save_soon(), name="save state")
        except RuntimeError:
            self._write_now()

    async def _save_soon(self) -> None:
        while self._dirty:
            # every write waits out the window, so a steady stream of changes costs one write per window
            await asyncio.sleep(PERSIST_DELAY_S)
            self._dirty = False
            payload = self.store.encode(self.state)
            self._writing = asyncio.ensure_future(asyncio.to_thread(self.store.write, payload))
            try:
                await self._writing
            except StateError as exc:
                log.error("%s; the agent keeps running with its state in memory", exc)
            finally:
                self._writing = None

    async def write_ahead(self) -> None:
        """Write the state now, before a device call whose outcome a kill would leave unknown (the in-flight
        write). It does not wait out the coalescing window, only a write already under way, and it skips the
        fsync: it guards against a killed process, not a lost machine; the durable write follows as usual."""
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)
        try:
            self.store.write(self.store.encode(self.state), durable=False)
        except StateError as exc:
            log.error("%s; the agent keeps running with its state in memory", exc)

    async def flush(self) -> None:
        """Write the state now, after any write under way (start and shutdown)."""
        if self._task is not None and not self._task.done():
            await asyncio.gather(self._task, return_exceptions=True)
        self._write_now()

    def _write_now(self) -> None:
        self._dirty = False
        try:
            self.store.save(self.state)
        except StateError as exc:
            log.error("%s; the agent keeps running with its state in memory", exc)
