"""Validation of HEMS commands: pure functions from raw MQTT payloads to a schedule, or to the reasons to refuse.

A command is taken whole or refused whole. The functions here never raise on a payload, whatever its bytes;
they answer with issues whose paths point into the payload (`$.periods[1].end`), ready for the result topic.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from energy_agent.api.domain import (
    DeviceCapabilities,
    OperationMode,
    Period,
    Schedule,
    ScheduleSource,
    isoformat,
    merge_periods,
    require_aware,
)
from energy_agent.hems import contracts
from energy_agent.hems.contracts import clip
from energy_agent.hems.wire import Unreadable, decode_json, plain_text

SCHEDULE_SET_CONTRACT = "hems/v1/schedule-set"
SCHEDULE_CLEAR_CONTRACT = "hems/v1/schedule-clear"
OPERATION_MODE_SET_CONTRACT = "hems/v1/operation-mode-set"
DEFAULT_MAX_PAYLOAD_BYTES = 65536
"""Largest command payload read when no device limit applies."""
MAX_ISSUES = 50
"""Most errors (and warnings) reported for one command; the rest are summed up in a last issue."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a command: a JSON path into the payload (`$` for all of it) and what is wrong there."""

    path: str
    message: str

    def to_json(self) -> dict[str, str]:
        """The form used in result payloads."""
        return {"path": self.path, "message": self.message}


@dataclass(frozen=True, slots=True)
class CommandLimits:
    """What the device accepts: current range, how far ahead a period may end, how many periods, payload size."""

    min_current_a: float
    max_current_a: float
    horizon_s: int
    max_periods: int = 96
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES

    def __post_init__(self) -> None:
        if not 0 <= self.min_current_a <= self.max_current_a:
            raise ValueError(f"current range {self.min_current_a}..{self.max_current_a} A is empty or negative")
        if self.horizon_s < 0 or self.max_periods < 1 or self.max_payload_bytes < 1:
            raise ValueError("horizon_s must be >= 0, max_periods and max_payload_bytes >= 1")

    @property
    def controls_current(self) -> bool:
        """False for an on/off device (range 0..0 A): it takes no `max_current`, and its schedules carry none."""
        return self.max_current_a > 0

    @classmethod
    def from_capabilities(cls, capabilities: DeviceCapabilities) -> CommandLimits:
        """The limits a device announces in its capabilities."""
        return cls(
            min_current_a=capabilities.min_current_a,
            max_current_a=capabilities.max_current_a,
            horizon_s=capabilities.horizon_s,
            max_periods=capabilities.max_periods,
        )


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """The outcome of reading a schedule-set command: a schedule when accepted, else the errors."""

    schedule: Schedule | None
    command_id: str | None
    errors: tuple[Issue, ...]
    warnings: tuple[Issue, ...]

    @property
    def accepted(self) -> bool:
        """True when the command yields a schedule (and so has no errors)."""
        return self.schedule is not None


@dataclass(frozen=True, slots=True)
class ParsedModeCommand:
    """The outcome of reading an operation-mode command: the mode asked for, else the errors."""

    operation_mode: OperationMode | None
    command_id: str | None
    errors: tuple[Issue, ...]


@dataclass
class _Findings:
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    def error(self, path: str, message: str) -> None:
        self.errors.append(Issue(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(Issue(path, message))


def parse_schedule_set(payload: bytes, *, now: datetime, tz: ZoneInfo, limits: CommandLimits) -> ParsedCommand:
    """Read a schedule-set payload received at `now`; offset-less times are read in `tz`. Never raises on input."""
    require_aware(now, "now")
    try:
        document = decode_json(payload, limits.max_payload_bytes)
    except Unreadable as exc:
        return ParsedCommand(None, None, (Issue("$", str(exc)),), ())
    command_id = _command_id(document)
    found = _Findings()
    periods = document.get("periods") if isinstance(document, dict) else None
    if isinstance(periods, list) and len(periods) > limits.max_periods:
        # Checked first: a flood of periods would otherwise flood the answer with their faults.
        found.error("$.periods", f"{len(periods)} periods; at most {limits.max_periods} are accepted")
        return ParsedCommand(None, command_id, tuple(found.errors), ())
    for problem in contracts.validate(SCHEDULE_SET_CONTRACT, document):
        # A HEMS written for the predecessor add-on may put its own name in `source`; say where it goes.
        hint = "; a HEMS names itself in source_id" if problem.path == "$.source" else ""
        found.error(problem.path, problem.message + hint)
    if found.errors:
        # Later checks rely on the shapes the schema guarantees.
        return ParsedCommand(None, command_id, _capped(found.errors), ())
    _warn_unknown_fields(document, found)
    schedule = _build_schedule(document, command_id, now=now, tz=tz, limits=limits, found=found)
    if found.errors or schedule is None:
        return ParsedCommand(None, command_id, _capped(found.errors), _capped(found.warnings))
    return ParsedCommand(schedule, command_id, (), _capped(found.warnings))


def parse_clear(
    payload: bytes, *, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
) -> tuple[str | None, tuple[Issue, ...]]:
    """Read a schedule-clear payload: its command id and errors (empty, `null`, `{}` are all a plain clear)."""
    if not payload.strip():
        return None, ()
    try:
        document = decode_json(payload, max_payload_bytes)
    except Unreadable as exc:
        return None, (Issue("$", str(exc)),)
    errors = [Issue(e.path, e.message) for e in contracts.validate(SCHEDULE_CLEAR_CONTRACT, document)]
    return _command_id(document), _capped(errors)


def parse_operation_mode_set(
    payload: bytes, *, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
) -> ParsedModeCommand:
    """Read an operation-mode command: plain text `standalone`/`hems`, a JSON string, or a JSON object."""
    try:
        document = decode_json(payload, max_payload_bytes)
    except Unreadable as exc:
        text = plain_text(payload, max_payload_bytes)
        if text is None:
            return ParsedModeCommand(None, None, (Issue("$", str(exc)),))
        document = text
    errors = _capped([Issue(e.path, e.message) for e in contracts.validate(OPERATION_MODE_SET_CONTRACT, document)])
    command_id = _command_id(document)
    if errors:
        return ParsedModeCommand(None, command_id, errors)
    mode = document if isinstance(document, str) else document["operation_mode"]
    return ParsedModeCommand(OperationMode(mode), command_id, ())


def command_id_of(payload: bytes, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> str | None:
    """The command id of any command payload, or None when it has none or cannot be read."""
    try:
        return _command_id(decode_json(payload, max_payload_bytes))
    except Unreadable:
        return None


def _command_id(document: Any) -> str | None:
    # Read before any other check so that even a refused command's result can carry its id.
    if not isinstance(document, dict):
        return None
    value = document.get("command_id")
    return value if isinstance(value, str) and 1 <= len(value) <= 64 else None


@functools.cache
def _known_fields() -> frozenset[str]:
    return frozenset(contracts.load_schema(SCHEDULE_SET_CONTRACT)["properties"])


def _warn_unknown_fields(document: dict[str, Any], found: _Findings) -> None:
    version = document.get("contract_version")
    if not contracts.is_newer_minor(version):
        return
    for key in document:
        if key not in _known_fields():
            found.warn(
                contracts.json_path([key]),
                f"unknown field ignored: contract_version {version} is newer than this agent's "
                f"{contracts.CONTRACT_VERSION}",
            )


def _build_schedule(
    document: dict[str, Any],
    command_id: str | None,
    *,
    now: datetime,
    tz: ZoneInfo,
    limits: CommandLimits,
    found: _Findings,
) -> Schedule | None:
    raw_periods: list[dict[str, Any]] = document["periods"]
    max_current = document.get("max_current")
    if max_current is not None:
        _check_current(max_current, "$.max_current", limits, found)
    expires_at = None
    if document.get("expires_at") is not None:
        expires_at = _read_time(document["expires_at"], "$.expires_at", tz, found)
        if expires_at is not None and expires_at <= now:
            found.error("$.expires_at", f"{isoformat(expires_at)} is not in the future (now {isoformat(now)})")
    kept = _read_periods(raw_periods, now=now, tz=tz, limits=limits, expires_at=expires_at, found=found)
    _check_order(kept, found)
    if found.errors:
        return None
    periods = merge_periods(period for _, period in kept)
    if not periods:
        found.warn("$.periods", "no period left to run: the device will not charge under this schedule")
    try:
        return Schedule(
            periods=periods,
            source=ScheduleSource.HEMS,
            max_current_a=_schedule_current(max_current, limits),
            expires_at=expires_at,
            command_id=command_id,
            source_id=document.get("source_id"),
        )
    except ValueError as exc:  # the checks above should make this unreachable; refuse rather than crash
        found.error("$", f"schedule could not be built: {exc}")
        return None


def _read_periods(
    raw_periods: list[dict[str, Any]],
    *,
    now: datetime,
    tz: ZoneInfo,
    limits: CommandLimits,
    expires_at: datetime | None,
    found: _Findings,
) -> list[tuple[int, Period]]:
    horizon_end = _horizon_end(now, limits.horizon_s)
    kept: list[tuple[int, Period]] = []
    for index, raw in enumerate(raw_periods):
        path = f"$.periods[{index}]"
        start = _read_time(raw["start"], f"{path}.start", tz, found)
        end = _read_time(raw["end"], f"{path}.end", tz, found)
        current = raw.get("max_current")
        if current is not None:
            _check_current(current, f"{path}.max_current", limits, found)
        if start is None or end is None:
            continue
        if not start < end:
            found.error(path, f"start {isoformat(start)} is not before end {isoformat(end)}")
            continue
        if end <= now:
            found.warn(path, f"ended at {isoformat(end)}, before the command arrived; dropped")
            continue
        if expires_at is not None and start >= expires_at:
            found.warn(path, f"starts at or after expires_at {isoformat(expires_at)}; dropped")
            continue
        if expires_at is not None and end > expires_at:
            found.warn(path, f"ends after expires_at; cut at {isoformat(expires_at)}")
            end = expires_at
        if end > horizon_end:
            found.error(
                f"{path}.end",
                f"{isoformat(end)} lies beyond the horizon of {limits.horizon_s} s (until {isoformat(horizon_end)})",
            )
            continue
        kept.append((index, Period(start, end, float(current) if current is not None else None)))
    return kept


def _check_order(kept: list[tuple[int, Period]], found: _Findings) -> None:
    """Warn about unsorted and mergeable periods; refuse overlaps that disagree on the current."""
    ordered = sorted(kept, key=lambda item: (item[1].start, item[1].end))
    if [index for index, _ in ordered] != [index for index, _ in kept]:
        found.warn("$.periods", "periods were not in time order; sorted")
    group_index, group_end, group_current = -1, None, None
    for index, period in ordered:
        if group_end is not None and period.start <= group_end:
            if period.max_current_a == group_current:
                kind = "overlaps" if period.start < group_end else "adjoins"
                found.warn(f"$.periods[{index}]", f"{kind} $.periods[{group_index}]; merged")
                group_end = max(group_end, period.end)
                continue
            if period.start < group_end:
                found.error(f"$.periods[{index}]", f"overlaps $.periods[{group_index}] with a different max_current")
                continue
        group_index, group_end, group_current = index, period.end, period.max_current_a


def _schedule_current(max_current: float | None, limits: CommandLimits) -> float | None:
    if not limits.controls_current:
        return None
    return float(max_current if max_current is not None else limits.max_current_a)


def _check_current(value: float, path: str, limits: CommandLimits, found: _Findings) -> None:
    if not limits.controls_current:
        found.error(path, "this device only switches on and off and takes no current limit; leave max_current out")
    elif not limits.min_current_a <= value <= limits.max_current_a:
        found.error(
            path, f"{value:g} A is outside the device's range {limits.min_current_a:g}..{limits.max_current_a:g} A"
        )


def _read_time(text: str, path: str, tz: ZoneInfo, found: _Findings) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        found.error(path, clip(f"{text!r} is not a valid date-time: {exc}"))
        return None
    if parsed.tzinfo is None:
        return _localize(parsed, path, tz, found)
    try:
        # Reject times that cannot be converted to UTC, so no later step trips over them.
        parsed.astimezone(UTC)
    except OverflowError:
        found.error(path, f"{text!r} is out of the supported range")
        return None
    return parsed


def _localize(naive: datetime, path: str, tz: ZoneInfo, found: _Findings) -> datetime | None:
    zone = tz.key or str(tz)
    aware = naive.replace(tzinfo=tz)
    try:
        round_trip = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    except OverflowError:
        found.error(path, f"{naive.isoformat()} is out of the supported range")
        return None
    if round_trip != naive:
        found.error(path, f"local time {naive.isoformat()} does not exist in {zone} (clocks skip it); add an offset")
        return None
    if aware.utcoffset() != aware.replace(fold=1).utcoffset():
        found.warn(
            path, f"no UTC offset and {naive.isoformat()} occurs twice in {zone}; read as the first, {isoformat(aware)}"
        )
    else:
        found.warn(path, f"no UTC offset; read as local time in {zone}, {isoformat(aware)}")
    return aware


def _capped(issues: list[Issue]) -> tuple[Issue, ...]:
    if len(issues) <= MAX_ISSUES:
        return tuple(issues)
    rest = len(issues) - (MAX_ISSUES - 1)
    return (*issues[: MAX_ISSUES - 1], Issue("$", f"{rest} more issues not listed"))


def _horizon_end(now: datetime, horizon_s: int) -> datetime:
    try:
        return now + timedelta(seconds=horizon_s)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)
