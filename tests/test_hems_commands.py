"""The HEMS command validator: every rule of a schedule set, clear and mode commands, and fuzzing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy_agent.api.domain import DeviceCapabilities, OperationMode, Period, ScheduleSource
from energy_agent.hems import contracts
from energy_agent.hems.commands import (
    MAX_ISSUES,
    CommandLimits,
    Issue,
    ParsedCommand,
    parse_clear,
    parse_operation_mode_set,
    parse_schedule_set,
)
from energy_agent.hems.payloads import result_payload
from energy_agent.hems.reasons import Reason

TZ = ZoneInfo("Europe/Stockholm")
NOW = datetime.fromisoformat("2025-12-04T14:30:00+01:00")
LIMITS = CommandLimits(min_current_a=6, max_current_a=16, horizon_s=48 * 3600)

PROPOSAL = (
    b'{"source":"hems","periods":[{"start":"2025-12-04T22:00:00+01:00","end":"2025-12-04T23:00:00+01:00"},'
    b'{"start":"2025-12-05T02:00:00+01:00","end":"2025-12-05T06:00:00+01:00"}],"max_current":16,'
    b'"expires_at":"2025-12-05T08:00:00+01:00"}'
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def period(start: str, end: str, **extra: Any) -> dict[str, Any]:
    return {"start": start, "end": end, **extra}


def command(*periods: dict[str, Any], **fields: Any) -> bytes:
    return json.dumps({"source": "hems", "periods": list(periods), **fields}).encode()


def parse(payload: bytes, *, now: datetime = NOW, limits: CommandLimits = LIMITS) -> ParsedCommand:
    return parse_schedule_set(payload, now=now, tz=TZ, limits=limits)


def paths(issues: tuple[Issue, ...]) -> list[str]:
    return [issue.path for issue in issues]


def refused_at(parsed: ParsedCommand) -> list[str]:
    assert parsed.schedule is None and not parsed.accepted
    return paths(parsed.errors)


# --- the proposal and the happy path -------------------------------------------------------------------------


def test_proposal_example_is_accepted_as_is() -> None:
    parsed = parse(PROPOSAL)
    assert parsed.accepted and parsed.errors == () and parsed.warnings == ()
    schedule = parsed.schedule
    assert schedule is not None
    assert schedule.source is ScheduleSource.HEMS
    assert schedule.periods == (
        Period(at("2025-12-04T22:00:00+01:00"), at("2025-12-04T23:00:00+01:00")),
        Period(at("2025-12-05T02:00:00+01:00"), at("2025-12-05T06:00:00+01:00")),
    )
    assert schedule.max_current_a == 16.0
    assert schedule.expires_at == at("2025-12-05T08:00:00+01:00")
    assert schedule.command_id is None


def test_command_id_is_carried_into_the_schedule() -> None:
    parsed = parse(command(period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z"), command_id="plan-7"))
    assert parsed.command_id == "plan-7"
    assert parsed.schedule is not None and parsed.schedule.command_id == "plan-7"


def test_absent_max_current_means_the_configured_maximum() -> None:
    parsed = parse(command(period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z")))
    assert parsed.schedule is not None and parsed.schedule.max_current_a == 16.0
    parsed = parse(command(period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z"), max_current=None))
    assert parsed.schedule is not None and parsed.schedule.max_current_a == 16.0


def test_per_period_current_is_kept() -> None:
    parsed = parse(command(period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z", max_current=6), max_current=10))
    assert parsed.schedule is not None
    assert parsed.schedule.periods[0].max_current_a == 6.0
    assert parsed.schedule.max_current_a == 10.0


# --- payloads that are not a JSON object ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{source: hems}", "not JSON"),
        (b'{"source":"hems","periods":[],"max_current":NaN}', "NaN"),
        (b'{"source":"hems","source":"hems","periods":[]}', "twice"),
        (b'{"source":"hems","periods":[],"command_id":"\\ud800"}', "surrogate"),
        (b"[" * 100_000 + b"]" * 100_000, "bytes"),
        (b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
    ],
)
def test_unreadable_payloads_are_refused_at_the_root(payload: bytes, words: str) -> None:
    parsed = parse(payload)
    assert refused_at(parsed) == ["$"]
    assert words in parsed.errors[0].message
    assert parsed.command_id is None


@pytest.mark.parametrize("payload", [b"[]", b"null", b'"hems"', b"16"])
def test_json_that_is_not_an_object_is_refused(payload: bytes) -> None:
    parsed = parse(payload)
    assert refused_at(parsed) == ["$"]
    assert "is not of type 'object'" in parsed.errors[0].message


def test_payload_size_limit() -> None:
    payload = command(period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z"))
    assert parse(payload, limits=CommandLimits(6, 16, 48 * 3600, max_payload_bytes=len(payload))).accepted
    parsed = parse(payload, limits=CommandLimits(6, 16, 48 * 3600, max_payload_bytes=len(payload) - 1))
    assert refused_at(parsed) == ["$"]
    assert f"payload is {len(payload)} bytes" in parsed.errors[0].message


# --- schema errors carry the JSON path -----------------------------------------------------------------------


def test_typo_in_a_field_name_is_refused() -> None:
    payload = PROPOSAL.replace(b'"max_current"', b'"max_curent"')
    parsed = parse(payload)
    assert parsed.errors == (Issue("$.max_curent", "unknown field"),)


def test_bad_time_in_second_period_points_at_it() -> None:
    parsed = parse(
        command(period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z"), period("2025-12-05T02:00:00Z", "6am"))
    )
    assert refused_at(parsed) == ["$.periods[1].end"]


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"source": "standalone"}, "$.source"),
        ({"max_current": "16"}, "$.max_current"),
        ({"expires_at": 1764918000}, "$.expires_at"),
        ({"command_id": "x" * 65}, "$.command_id"),
        ({"contract_version": "2"}, "$.contract_version"),
        ({"contract_version": "2.0"}, "$.contract_version"),
    ],
)
def test_schema_errors(fields: dict[str, Any], path: str) -> None:
    assert refused_at(parse(command(period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z"), **fields))) == [path]


def test_missing_source_and_periods() -> None:
    parsed = parse(b"{}")
    assert refused_at(parsed) == ["$", "$"]
    assert {issue.message for issue in parsed.errors} == {
        "'source' is a required property",
        "'periods' is a required property",
    }


def test_command_id_is_echoed_even_when_refused() -> None:
    schema_broken = json.dumps({"source": "nope", "periods": "none", "command_id": "c-1"}).encode()
    assert parse(schema_broken).command_id == "c-1"
    rule_broken = command(period("2025-12-04T23:00:00Z", "2025-12-04T22:00:00Z"), command_id="c-2")
    parsed = parse(rule_broken)
    assert parsed.command_id == "c-2" and not parsed.accepted


def test_an_invalid_command_id_is_not_echoed() -> None:
    parsed = parse(command(command_id=["not", "a", "string"]))
    assert parsed.command_id is None
    assert refused_at(parsed) == ["$.command_id"]


def test_unknown_fields_of_a_newer_minor_are_ignored_with_a_warning_each() -> None:
    payload = command(
        period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z"), contract_version="1.3", priority=1, mode="eco"
    )
    parsed = parse(payload)
    assert parsed.accepted
    assert paths(parsed.warnings) == ["$.priority", "$.mode"]
    assert all("1.3 is newer than this agent's 1.2" in w.message for w in parsed.warnings)


@pytest.mark.parametrize("version", [None, "1", "1.0", "1.1", "1.2"])
def test_unknown_fields_are_refused_for_our_own_version(version: str | None) -> None:
    fields: dict[str, Any] = {"priority": 1}
    if version is not None:
        fields["contract_version"] = version
    parsed = parse(command(period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z"), **fields))
    assert parsed.errors == (Issue("$.priority", "unknown field"),)


# --- period count --------------------------------------------------------------------------------------------


def _hourly(count: int) -> list[dict[str, Any]]:
    start = at("2025-12-04T15:00:00+00:00")
    return [
        period((start + timedelta(hours=2 * i)).isoformat(), (start + timedelta(hours=2 * i + 1)).isoformat())
        for i in range(count)
    ]


def test_period_count_limit() -> None:
    limits = CommandLimits(6, 16, 48 * 3600, max_periods=3)
    assert parse(command(*_hourly(3)), limits=limits).accepted
    parsed = parse(command(*_hourly(4)), limits=limits)
    assert parsed.errors == (Issue("$.periods", "4 periods; at most 3 are accepted"),)


# --- times ---------------------------------------------------------------------------------------------------


def test_local_time_is_read_in_the_configured_zone_with_a_warning() -> None:
    parsed = parse(command(period("2025-12-04T22:00:00", "2025-12-04T23:00:00+01:00")))
    assert parsed.schedule is not None
    assert parsed.schedule.periods[0].start == at("2025-12-04T22:00:00+01:00")
    assert parsed.warnings == (
        Issue("$.periods[0].start", "no UTC offset; read as local time in Europe/Stockholm, 2025-12-04T22:00:00+01:00"),
    )


def test_local_time_that_clocks_skip_is_refused() -> None:
    now = at("2026-03-28T12:00:00+01:00")
    parsed = parse(command(period("2026-03-29T02:30:00", "2026-03-29T04:00:00+02:00")), now=now)
    assert refused_at(parsed) == ["$.periods[0].start"]
    assert "does not exist in Europe/Stockholm" in parsed.errors[0].message


def test_local_time_that_occurs_twice_is_read_as_the_first_with_a_warning() -> None:
    now = at("2025-10-25T12:00:00+02:00")
    parsed = parse(command(period("2025-10-26T02:30:00", "2025-10-26T04:00:00+01:00")), now=now)
    assert parsed.schedule is not None
    assert parsed.schedule.periods[0].start == at("2025-10-26T02:30:00+02:00")
    assert "occurs twice" in parsed.warnings[0].message


@pytest.mark.parametrize("text", ["2025-02-30T10:00:00Z", "0000-01-01T00:00:00Z"])
def test_time_the_pattern_allows_but_the_calendar_does_not_is_refused(text: str) -> None:
    parsed = parse(command(period(text, "2025-12-04T23:00:00Z")))
    assert refused_at(parsed) == ["$.periods[0].start"]
    assert "is not a valid date-time" in parsed.errors[0].message


@pytest.mark.parametrize("text", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
def test_time_out_of_range_in_utc_is_refused(text: str) -> None:
    parsed = parse(command(period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z"), expires_at=text))
    assert refused_at(parsed) == ["$.expires_at"]


def test_local_time_out_of_range_is_refused() -> None:
    parsed = parse_schedule_set(
        command(period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z"), expires_at="9999-12-31T23:30:00"),
        now=NOW,
        tz=ZoneInfo("America/New_York"),
        limits=LIMITS,
    )
    assert refused_at(parsed) == ["$.expires_at"]


@pytest.mark.parametrize("end", ["2025-12-04T22:00:00Z", "2025-12-04T21:00:00Z"])
def test_start_must_be_before_end(end: str) -> None:
    parsed = parse(command(period("2025-12-04T23:00:00Z", "2025-12-05T00:00:00Z"), period("2025-12-04T22:00:00Z", end)))
    assert refused_at(parsed) == ["$.periods[1]"]
    assert "is not before end" in parsed.errors[0].message


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="offset"):
        parse_schedule_set(PROPOSAL, now=datetime(2025, 12, 4, 14, 30), tz=TZ, limits=LIMITS)


# --- sorting and merging -------------------------------------------------------------------------------------


def test_unsorted_periods_are_sorted_with_a_warning() -> None:
    parsed = parse(
        command(
            period("2025-12-05T02:00:00Z", "2025-12-05T03:00:00Z"),
            period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z"),
        )
    )
    assert parsed.schedule is not None
    assert [p.start for p in parsed.schedule.periods] == [at("2025-12-04T22:00:00Z"), at("2025-12-05T02:00:00Z")]
    assert parsed.warnings == (Issue("$.periods", "periods were not in time order; sorted"),)


def test_overlapping_and_adjacent_periods_are_merged_with_warnings() -> None:
    parsed = parse(
        command(
            period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z"),
            period("2025-12-04T22:30:00Z", "2025-12-04T23:30:00Z"),
            period("2025-12-04T23:30:00Z", "2025-12-05T00:00:00Z"),
            period("2025-12-05T02:00:00Z", "2025-12-05T03:00:00Z"),
        )
    )
    assert parsed.schedule is not None
    assert parsed.schedule.periods == (
        Period(at("2025-12-04T22:00:00Z"), at("2025-12-05T00:00:00Z")),
        Period(at("2025-12-05T02:00:00Z"), at("2025-12-05T03:00:00Z")),
    )
    assert parsed.warnings == (
        Issue("$.periods[1]", "overlaps $.periods[0]; merged"),
        Issue("$.periods[2]", "adjoins $.periods[0]; merged"),
    )


def test_periods_in_different_offsets_merge_by_instant() -> None:
    parsed = parse(
        command(
            period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z"),
            period("2025-12-05T00:00:00+01:00", "2025-12-05T01:00:00+01:00"),
        )
    )
    assert parsed.schedule is not None and len(parsed.schedule.periods) == 1
    assert parsed.schedule.periods[0].end == at("2025-12-05T00:00:00Z")


def test_overlap_with_a_different_current_is_refused() -> None:
    parsed = parse(
        command(
            period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z", max_current=10),
            period("2025-12-04T22:30:00Z", "2025-12-04T23:30:00Z"),
        )
    )
    assert refused_at(parsed) == ["$.periods[1]"]
    assert "different max_current" in parsed.errors[0].message


def test_adjacent_periods_with_different_currents_stay_apart() -> None:
    parsed = parse(
        command(
            period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z", max_current=10),
            period("2025-12-04T23:00:00Z", "2025-12-05T00:00:00Z"),
        )
    )
    assert parsed.schedule is not None and len(parsed.schedule.periods) == 2
    assert parsed.warnings == ()


# --- now, horizon and expiry ---------------------------------------------------------------------------------


def test_ended_periods_are_dropped_with_a_warning_and_running_ones_kept() -> None:
    parsed = parse(
        command(
            period("2025-12-04T10:00:00+01:00", "2025-12-04T14:30:00+01:00"),
            period("2025-12-04T14:00:00+01:00", "2025-12-04T15:00:00+01:00"),
        )
    )
    assert parsed.schedule is not None
    assert parsed.schedule.periods == (Period(at("2025-12-04T14:00:00+01:00"), at("2025-12-04T15:00:00+01:00")),)
    assert paths(parsed.warnings) == ["$.periods[0]"]
    assert "dropped" in parsed.warnings[0].message


def test_all_periods_dropped_is_a_valid_empty_schedule_with_a_warning() -> None:
    parsed = parse(command(period("2025-12-04T10:00:00+01:00", "2025-12-04T11:00:00+01:00")))
    assert parsed.schedule is not None and parsed.schedule.periods == ()
    assert paths(parsed.warnings) == ["$.periods[0]", "$.periods"]
    assert "will not charge" in parsed.warnings[-1].message


def test_empty_period_list_is_a_valid_do_not_charge_schedule() -> None:
    parsed = parse(command())
    assert parsed.schedule is not None and parsed.schedule.periods == ()
    assert paths(parsed.warnings) == ["$.periods"]


def test_period_ending_beyond_the_horizon_is_refused() -> None:
    horizon_end = NOW + timedelta(seconds=LIMITS.horizon_s)
    inside = period("2025-12-04T22:00:00+01:00", horizon_end.isoformat())
    assert parse(command(inside)).accepted
    beyond = period("2025-12-04T22:00:00+01:00", (horizon_end + timedelta(seconds=1)).isoformat())
    parsed = parse(command(inside, beyond))
    assert refused_at(parsed) == ["$.periods[1].end"]
    assert "beyond the horizon" in parsed.errors[0].message


@pytest.mark.parametrize("expires_at", ["2025-12-04T14:30:00+01:00", "2025-12-04T09:00:00+01:00"])
def test_expires_at_not_in_the_future_is_refused(expires_at: str) -> None:
    parsed = parse(command(period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z"), expires_at=expires_at))
    assert refused_at(parsed) == ["$.expires_at"]


def test_expires_at_cuts_and_drops_periods_with_warnings() -> None:
    parsed = parse(
        command(
            period("2025-12-04T22:00:00+01:00", "2025-12-04T23:00:00+01:00"),
            period("2025-12-05T02:00:00+01:00", "2025-12-05T06:00:00+01:00"),
            period("2025-12-05T07:00:00+01:00", "2025-12-05T08:00:00+01:00"),
            expires_at="2025-12-05T04:00:00+01:00",
        )
    )
    assert parsed.schedule is not None
    assert parsed.schedule.periods == (
        Period(at("2025-12-04T22:00:00+01:00"), at("2025-12-04T23:00:00+01:00")),
        Period(at("2025-12-05T02:00:00+01:00"), at("2025-12-05T04:00:00+01:00")),
    )
    assert paths(parsed.warnings) == ["$.periods[1]", "$.periods[2]"]
    assert "cut at 2025-12-05T04:00:00+01:00" in parsed.warnings[0].message
    assert "dropped" in parsed.warnings[1].message


def test_expires_at_can_bring_a_far_period_within_the_horizon() -> None:
    parsed = parse(
        command(
            period("2025-12-05T02:00:00+01:00", "2025-12-09T00:00:00+01:00"), expires_at="2025-12-05T06:00:00+01:00"
        )
    )
    assert parsed.schedule is not None
    assert parsed.schedule.periods[0].end == at("2025-12-05T06:00:00+01:00")


# --- currents ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "ok"), [(b"6", True), (b"16", True), (b"6.0", True), (b"5.9", False), (b"16.5", False), (b"1e400", False)]
)
def test_schedule_max_current_range(raw: bytes, ok: bool) -> None:
    parsed = parse(PROPOSAL.replace(b'"max_current":16', b'"max_current":' + raw))
    assert parsed.accepted is ok
    if not ok:
        assert paths(parsed.errors) == ["$.max_current"]
        assert "outside the device's range 6..16 A" in parsed.errors[0].message


def test_period_max_current_out_of_range_points_at_the_period() -> None:
    parsed = parse(
        command(
            period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z"),
            period("2025-12-05T02:00:00Z", "2025-12-05T03:00:00Z", max_current=32),
        )
    )
    assert refused_at(parsed) == ["$.periods[1].max_current"]


# --- issue reporting -----------------------------------------------------------------------------------------


def test_a_flood_of_faults_is_capped() -> None:
    limits = CommandLimits(6, 16, 48 * 3600, max_periods=1000)
    parsed = parse(command(*[{"start": "x"}] * 300), limits=limits)
    assert len(parsed.errors) == MAX_ISSUES
    assert parsed.errors[-1] == Issue("$", f"{2 * 300 - MAX_ISSUES + 1} more issues not listed")


def test_issues_fit_the_result_schema() -> None:
    too_long_id = command(period("2025-12-04T22:00:00Z", "2025-12-04T23:00:00Z"), command_id="x" * 65)
    damaged = [PROPOSAL.replace(b"16", b"99"), command(period("2025-12-04T22:00:00", "x")), too_long_id]
    for payload in [PROPOSAL, b"\xff", *damaged]:
        parsed = parse(payload)
        result = result_payload(
            command="set",
            command_id=parsed.command_id,
            accepted=parsed.accepted,
            errors=parsed.errors,
            warnings=parsed.warnings,
            applied_at=datetime.fromisoformat("2025-12-04T14:30:01+01:00"),
            reason=None if parsed.accepted else Reason.INVALID,
        )
        assert contracts.validate("hems/v1/result", result) == []


# --- limits --------------------------------------------------------------------------------------------------


def test_limits_from_capabilities() -> None:
    capabilities = DeviceCapabilities(
        min_current_a=6, max_current_a=32, phases=3, control_strategy="schedule", horizon_s=3600, max_periods=10
    )
    assert CommandLimits.from_capabilities(capabilities) == CommandLimits(6, 32, 3600, max_periods=10)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_current_a": 17, "max_current_a": 16, "horizon_s": 1},
        {"min_current_a": -1, "max_current_a": 16, "horizon_s": 1},
        {"min_current_a": 6, "max_current_a": 16, "horizon_s": -1},
        {"min_current_a": 6, "max_current_a": 16, "horizon_s": 1, "max_periods": 0},
        {"min_current_a": 6, "max_current_a": 16, "horizon_s": 1, "max_payload_bytes": 0},
    ],
)
def test_limits_refuse_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must be|range"):
        CommandLimits(**kwargs)


# --- clear ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "command_id"),
    [
        (b"", None),
        (b"  \n", None),
        (b"null", None),
        (b"{}", None),
        (b'{"command_id": "clear-1"}', "clear-1"),
        (b'{"command_id": null}', None),
        (b'{"command_id": "c", "contract_version": "1.4", "reason": "full"}', "c"),
    ],
)
def test_clear_accepts(payload: bytes, command_id: str | None) -> None:
    assert parse_clear(payload) == (command_id, ())


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        (b'{"command_id": "c", "force": true}', "$.force"),
        (b'{"command_id": 5}', "$.command_id"),
        (b'"clear"', "$"),
        (b"{oops", "$"),
        (b"\xc3\x28", "$"),
    ],
)
def test_clear_refuses(payload: bytes, path: str) -> None:
    _, errors = parse_clear(payload)
    assert paths(errors) == [path]


def test_clear_echoes_the_command_id_when_refused() -> None:
    assert parse_clear(b'{"command_id": "c-9", "force": true}')[0] == "c-9"


def test_clear_size_limit() -> None:
    _, errors = parse_clear(b'{"command_id": "c"}', max_payload_bytes=5)
    assert paths(errors) == ["$"] and "bytes" in errors[0].message


# --- operation mode ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "mode", "command_id"),
    [
        (b"hems", OperationMode.HEMS, None),
        (b" standalone\n", OperationMode.STANDALONE, None),
        (b'"hems"', OperationMode.HEMS, None),
        (b'{"operation_mode": "standalone", "command_id": "m-1"}', OperationMode.STANDALONE, "m-1"),
    ],
)
def test_operation_mode_accepts(payload: bytes, mode: OperationMode, command_id: str | None) -> None:
    parsed = parse_operation_mode_set(payload)
    assert (parsed.operation_mode, parsed.command_id, parsed.errors) == (mode, command_id, ())


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        (b"HEMS", "$"),
        (b"auto", "$"),
        (b"", "$"),
        (b"null", "$"),
        (b"\xff", "$"),
        (b'{"command_id": "m-2"}', "$"),
        (b'{"operation_mode": "hems", "mode": "x"}', "$.mode"),
    ],
)
def test_operation_mode_refuses(payload: bytes, path: str) -> None:
    parsed = parse_operation_mode_set(payload)
    assert parsed.operation_mode is None
    assert paths(parsed.errors)[0] == path


def test_operation_mode_echoes_the_command_id_when_refused() -> None:
    assert parse_operation_mode_set(b'{"command_id": "m-2"}').command_id == "m-2"


# --- fuzzing -------------------------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_LIMITS = CommandLimits(min_current_a=6, max_current_a=16, horizon_s=24 * 3600, max_periods=8)


_OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5, minutes=-30)), None])


def _format(instant: datetime, offset: timezone | None) -> str:
    # None stands for a local time without offset, as a HEMS may send it.
    if offset is None:
        return instant.astimezone(TZ).replace(tzinfo=None).isoformat()
    return instant.astimezone(offset).isoformat()


def _instants() -> st.SearchStrategy[datetime]:
    # Around NOW and the 24 h horizon, on whole minutes so that periods often touch or overlap.
    return st.integers(min_value=-4 * 60, max_value=27 * 60).map(lambda m: NOW + timedelta(minutes=m))


@st.composite
def _good_period(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(_instants())
    end = start + timedelta(minutes=draw(st.integers(min_value=15, max_value=6 * 60)))
    result: dict[str, Any] = {"start": _format(start, draw(_OFFSETS)), "end": _format(end, draw(_OFFSETS))}
    current = draw(st.sampled_from([None, None, None, 6, 10, 16, 20]))
    if current is not None:
        result["max_current"] = current
    return result


def _wild_times() -> st.SearchStrategy[Any]:
    return st.one_of(st.builds(_format, _instants(), _OFFSETS), st.text(max_size=30), st.integers(), st.none())


def _currents() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(0, 40),
        st.none(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=3),
        st.booleans(),
    )


_WILD_PERIOD = st.fixed_dictionaries(
    {"start": _wild_times(), "end": _wild_times()}, optional={"max_current": _currents(), "extra": st.integers()}
)
_PERIOD = st.one_of(_good_period(), _good_period(), _good_period(), _WILD_PERIOD)

_NEAR_SCHEMA = st.fixed_dictionaries(
    {"source": st.sampled_from(["hems", "hems", "hems", "standalone"])},
    optional={
        "periods": st.one_of(st.lists(_PERIOD, max_size=10), st.lists(_good_period(), max_size=6), st.text(max_size=5)),
        "max_current": st.one_of(st.sampled_from([6, 10, 16]), _currents()),
        "expires_at": st.one_of(st.builds(_format, _instants(), _OFFSETS), _wild_times()),
        "command_id": st.one_of(st.text(max_size=70), st.integers(), st.none()),
        "contract_version": st.sampled_from(["1", "1.0", "1.1", "1.7", "2", "2.0", "01", "", None]),
        "note": st.text(max_size=10),
    },
)


def _check_consistent(parsed: ParsedCommand, now: datetime, limits: CommandLimits) -> None:
    assert (parsed.schedule is None) == bool(parsed.errors)
    assert parsed.command_id is None or 1 <= len(parsed.command_id) <= 64
    assert all(issue.path.startswith("$") and issue.message for issue in parsed.errors + parsed.warnings)
    assert len(parsed.errors) <= MAX_ISSUES and len(parsed.warnings) <= MAX_ISSUES
    schedule = parsed.schedule
    if schedule is None:
        return
    assert schedule.source is ScheduleSource.HEMS
    assert schedule.command_id == parsed.command_id
    assert schedule.max_current_a is not None
    assert limits.min_current_a <= schedule.max_current_a <= limits.max_current_a
    horizon_end = now + timedelta(seconds=limits.horizon_s)
    for p in schedule.periods:
        assert p.start < p.end
        assert now < p.end <= horizon_end
        assert p.max_current_a is None or limits.min_current_a <= p.max_current_a <= limits.max_current_a
        if schedule.expires_at is not None:
            assert p.end <= schedule.expires_at
    for earlier, later in zip(schedule.periods, schedule.periods[1:], strict=False):
        assert earlier.end <= later.start
        assert earlier.end < later.start or earlier.max_current_a != later.max_current_a  # merged when mergeable
    if schedule.expires_at is not None:
        assert schedule.expires_at > now
    json.dumps([issue.to_json() for issue in parsed.errors + parsed.warnings], ensure_ascii=False).encode()


@FUZZ
@given(st.binary(max_size=2000))
def test_fuzz_arbitrary_bytes_never_raise(payload: bytes) -> None:
    parsed = parse(payload, limits=FUZZ_LIMITS)
    _check_consistent(parsed, NOW, FUZZ_LIMITS)
    command_id, errors = parse_clear(payload)
    assert command_id is None or 1 <= len(command_id) <= 64
    assert all(e.path.startswith("$") for e in errors)
    mode = parse_operation_mode_set(payload)
    assert (mode.operation_mode is None) == bool(mode.errors)


@FUZZ
@given(
    _NEAR_SCHEMA, st.datetimes(min_value=datetime(2025, 12, 3), max_value=datetime(2025, 12, 6), timezones=st.just(TZ))
)
def test_fuzz_payloads_near_the_schema(document: dict[str, Any], now: datetime) -> None:
    parsed = parse(json.dumps(document).encode(), now=now, limits=FUZZ_LIMITS)
    _check_consistent(parsed, now, FUZZ_LIMITS)
    command_id = document.get("command_id")
    if isinstance(command_id, str) and 1 <= len(command_id) <= 64:
        assert parsed.command_id == command_id


@FUZZ
@given(
    st.lists(_good_period(), max_size=8),
    st.sampled_from([None, 6, 10, 16]),
    st.one_of(st.none(), st.builds(_format, _instants(), _OFFSETS)),
)
def test_fuzz_well_formed_schedules(
    periods: list[dict[str, Any]], max_current: int | None, expires: str | None
) -> None:
    parsed = parse(command(*periods, max_current=max_current, expires_at=expires), limits=FUZZ_LIMITS)
    _check_consistent(parsed, NOW, FUZZ_LIMITS)


@FUZZ
@given(st.integers(0, len(PROPOSAL) - 1), st.binary(min_size=1, max_size=4), st.booleans())
def test_fuzz_damaged_proposal(position: int, junk: bytes, replace: bool) -> None:
    payload = PROPOSAL[:position] + junk + PROPOSAL[position + (len(junk) if replace else 0) :]
    _check_consistent(parse(payload), NOW, LIMITS)
