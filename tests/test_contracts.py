"""The published HEMS contract: schemas, examples, the AsyncAPI document, and the contracts module."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import tomllib
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from energy_agent.hems import contracts
from tools.bundle_contracts import bundled_files, references

with warnings.catch_warnings():
    # asyncapi3 0.0.2 names a model field "schema", which pydantic warns about on import; harmless here.
    warnings.simplefilter("ignore", UserWarning)
    from asyncapi3.models.asyncapi import AsyncAPI3  # type: ignore[import-untyped]

V1 = contracts.CONTRACTS_DIR / "hems" / "v1"
COMMON = "hems/v1/src/common"
PAYLOADS = [
    "schedule-set",
    "schedule-clear",
    "status",
    "result",
    "capabilities",
    "availability",
    "operation-mode-set",
    "operation-mode-result",
]
REPO_ROOT = Path(__file__).resolve().parent.parent

PROPOSAL_SCHEDULE = """{
  "source": "hems",
  "periods": [
    {"start": "2025-12-04T22:00:00+01:00", "end": "2025-12-04T23:00:00+01:00"},
    {"start": "2025-12-05T02:00:00+01:00", "end": "2025-12-05T06:00:00+01:00"}
  ],
  "max_current": 16,
  "expires_at": "2025-12-05T08:00:00+01:00"
}"""

# The proposal's status example with its placeholders replaced by concrete values.
PROPOSAL_STATUS = """{
  "state": "charging",
  "schedule_source": "hems",
  "schedule_active": true,
  "next_period_start": "2025-12-04T22:00:00+01:00",
  "next_period_end": "2025-12-04T23:00:00+01:00",
  "current_power_kw": 0.0,
  "session_energy_kwh": 12.5,
  "ready_for_schedule": true,
  "last_hems_command_at": "2025-12-04T14:30:00+01:00"
}"""


def _example_files(kind: str) -> list[Path]:
    return sorted((V1 / "examples" / kind).glob("*.json"))


def _schema_of(example: Path) -> str:
    return "hems/v1/" + example.name.split(".", 1)[0]


# --- the contracts module ------------------------------------------------------------------------------------


def test_every_payload_has_a_schema() -> None:
    assert contracts.list_contracts() == sorted(f"hems/v1/{name}" for name in PAYLOADS)


@pytest.mark.parametrize("name", contracts.list_contracts())
def test_schema_is_draft_2020_12_self_contained_without_an_id(name: str) -> None:
    schema = contracts.load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    # no $id: a validator that fetches $ids or $refs must find nothing to fetch (the domain would not be ours)
    assert "$id" not in json.dumps(schema)
    assert schema.get("description")


@pytest.mark.parametrize("name", contracts.list_contracts())
def test_examples_inside_each_schema_validate(name: str) -> None:
    for example in contracts.load_schema(name).get("examples", []):
        assert contracts.validate(name, example) == []


def test_load_schema_returns_a_copy() -> None:
    contracts.load_schema("hems/v1/status")["required"].clear()
    assert "state" in contracts.load_schema("hems/v1/status")["required"]


@pytest.mark.parametrize("name", ["hems/v1/nope", "../pyproject", "hems/v1/../../../pyproject", ""])
def test_unknown_schema_name_raises_key_error(name: str) -> None:
    with pytest.raises(KeyError):
        contracts.load_schema(name)


def test_validator_is_cached_and_checks_formats() -> None:
    first = contracts.validator("hems/v1/schedule-set")
    assert first is contracts.validator("hems/v1/schedule-set")
    assert first.format_checker is not None


def test_every_reference_in_the_schemas_resolves_inside_the_schema_itself() -> None:
    refs = 0
    for name in contracts.list_contracts():
        schema = contracts.load_schema(name)
        for ref in references(schema):
            assert ref.startswith("#/$defs/"), f"{name}: {ref} leaves the file"
            assert ref.removeprefix("#/$defs/") in schema["$defs"], f"{name}: {ref}"
            refs += 1
    assert refs > 20


def test_published_schemas_are_bundled_from_the_sources() -> None:
    sources = contracts.CONTRACTS_DIR / "hems" / "v1" / "src"
    assert sorted(p.name for p in sources.glob("*.schema.json")) == sorted(
        [f"{name}.schema.json" for name in PAYLOADS] + ["common.schema.json"]
    )
    for path, text in bundled_files(contracts.CONTRACTS_DIR / "hems" / "v1").items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name}: run python -m tools.docs_gen --write"


def test_contracts_dir_is_found_in_a_source_checkout_and_in_an_installed_package(tmp_path: Path) -> None:
    assert contracts.CONTRACTS_DIR == REPO_ROOT / "contracts"
    checkout = tmp_path / "checkout"
    (checkout / "contracts" / "hems").mkdir(parents=True)
    (checkout / "energy_agent").mkdir()
    assert contracts.find_contracts_dir(checkout / "energy_agent") == checkout / "contracts"
    installed = tmp_path / "site-packages" / "energy_agent"
    (installed / contracts.INSTALLED_DIR_NAME / "hems").mkdir(parents=True)
    # A stray top-level "contracts" folder in site-packages must not win over the packaged copy.
    (tmp_path / "site-packages" / "contracts" / "hems").mkdir(parents=True)
    assert contracts.find_contracts_dir(installed) == installed / contracts.INSTALLED_DIR_NAME


def test_wheel_ships_the_contracts_where_the_module_looks() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    force_include = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert force_include["contracts"] == f"energy_agent/{contracts.INSTALLED_DIR_NAME}"


def test_topic_id_pattern_is_the_schema_pattern() -> None:
    common = contracts.load_schema(COMMON)
    assert common["$defs"]["topicSegment"]["pattern"] == contracts.TOPIC_ID_PATTERN
    assert re.fullmatch(contracts.TOPIC_ID_PATTERN, "2012120123A_1")
    assert re.fullmatch(contracts.TOPIC_ID_PATTERN, "charge-amps")
    for bad in ["", "a/b", "a+b", "a#", "x" * 65, "a b", "ab\n"]:
        assert not re.fullmatch(contracts.TOPIC_ID_PATTERN, bad), bad


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([], "$"),
        (["periods", 1, "end"], "$.periods[1].end"),
        (["max_curent"], "$.max_curent"),
        (["with space"], "$['with space']"),
        (["it's"], "$['it\\'s']"),
        (["1st"], "$['1st']"),
    ],
)
def test_json_path(parts: list[str | int], expected: str) -> None:
    assert contracts.json_path(parts) == expected


# --- versions ------------------------------------------------------------------------------------------------


def test_contract_version_constants() -> None:
    assert contracts.CONTRACT_VERSION == "1.2"
    assert contracts.CONTRACT_MAJOR == "1"


@pytest.mark.parametrize(
    ("version", "newer"),
    [
        ("1.3", True),
        ("1.12", True),
        ("1.2", False),
        ("1.1", False),
        ("1.0", False),
        ("1", False),
        ("2.1", False),
        ("1.01", False),
        (None, False),
    ],
)
def test_is_newer_minor(version: str | None, newer: bool) -> None:
    assert contracts.is_newer_minor(version) is newer


@given(st.one_of(st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,3})?\Z"), st.text(max_size=6)))
def test_newer_minor_schema_pattern_agrees_with_is_newer_minor(version: str) -> None:
    pattern = contracts.load_schema(COMMON)["$defs"]["newerMinorVersion"]["properties"]
    matches = re.fullmatch(pattern["contract_version"]["pattern"].strip("^$"), version) is not None
    assert matches is contracts.is_newer_minor(version)


@pytest.mark.parametrize("name", ["schedule-set", "schedule-clear", "operation-mode-set"])
def test_closed_field_list_matches_the_properties(name: str) -> None:
    schema = contracts.load_schema(f"hems/v1/{name}")
    body = schema if "properties" in schema else schema["else"]
    assert body["else"]["propertyNames"]["enum"] == list(body["properties"])


def test_unknown_field_refused_unless_a_newer_minor_is_named() -> None:
    command = {"source": "hems", "periods": [], "priority": "high"}
    for version in [None, "1", "1.0", "1.1", "1.2"]:
        with_version = command if version is None else {**command, "contract_version": version}
        assert contracts.validate("hems/v1/schedule-set", with_version) == [
            contracts.ContractError("$.priority", "unknown field")
        ]
    assert contracts.validate("hems/v1/schedule-set", {**command, "contract_version": "1.3"}) == []


@pytest.mark.parametrize("version", ["2", "2.0", "0.9", "10"])
def test_other_major_versions_are_refused(version: str) -> None:
    errors = contracts.validate("hems/v1/schedule-set", {"source": "hems", "periods": [], "contract_version": version})
    assert [e.path for e in errors] == ["$.contract_version"]
    assert "other majors are not supported" in errors[0].message


# --- date-times ----------------------------------------------------------------------------------------------

OFFSET_TIMES = ["2025-12-04T22:00:00+01:00", "2025-12-04T21:00:00Z", "2025-06-30T23:59:59.123456-05:30"]
LOCAL_TIMES = ["2025-12-04T22:00:00", "2025-12-04T22:00:00.5"]
NOT_TIMES = [
    "2025-12-04",
    "2025-12-04 22:00:00+01:00",
    "2025-12-04T22:00+01:00",
    "2025-12-04T24:00:00Z",
    "2025-12-32T10:00:00Z",
    "2025-00-01T10:00:00Z",
    "2025-12-04T22:00:00+1:00",
    "2025-12-04T22:00:00 +01:00",
    "2025-12-04t22:00:00z",
    "1733346000",
    "",
    "2025-12-04T22:00:00+01:00junk",
    "\u0662025-12-04T22:00:00Z",  # an Arabic-Indic digit: \d would take it, [0-9] does not
]


def _matches(definition: str, text: str) -> bool:
    common = contracts.load_schema(COMMON)
    schema = {"$ref": f"#/$defs/{definition}", "$defs": common["$defs"]}
    return Draft202012Validator(schema, format_checker=FormatChecker()).is_valid(text)


@pytest.mark.parametrize("text", OFFSET_TIMES)
def test_times_with_offset_pass_both_patterns(text: str) -> None:
    assert _matches("dateTime", text)
    assert _matches("dateTimeInput", text)


@pytest.mark.parametrize("text", LOCAL_TIMES)
def test_local_times_pass_only_the_input_pattern(text: str) -> None:
    assert _matches("dateTimeInput", text)
    assert not _matches("dateTime", text)


@pytest.mark.parametrize("text", NOT_TIMES)
def test_malformed_times_fail_both_patterns(text: str) -> None:
    assert not _matches("dateTimeInput", text)
    assert not _matches("dateTime", text)


@given(
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9998, 12, 31)),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
    st.sampled_from(["seconds", "milliseconds", "microseconds"]),
)
def test_every_python_iso_time_matches_and_every_match_parses(naive: datetime, offset_min: int, spec: str) -> None:
    aware = naive.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
    text = aware.isoformat(timespec=spec)
    assert _matches("dateTime", text)
    assert datetime.fromisoformat(text).replace(microsecond=0) == aware.replace(microsecond=0)
    local = naive.isoformat(timespec=spec)
    assert _matches("dateTimeInput", local) and not _matches("dateTime", local)
    assert datetime.fromisoformat(local).tzinfo is None
    assert _matches("dateTime", aware.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"))


# --- example files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", _example_files("valid"), ids=lambda p: p.name)
def test_valid_example_validates(example: Path) -> None:
    assert contracts.validate(_schema_of(example), json.loads(example.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("example", _example_files("invalid"), ids=lambda p: p.name)
def test_invalid_example_fails(example: Path) -> None:
    errors = contracts.validate(_schema_of(example), json.loads(example.read_text(encoding="utf-8")))
    assert errors, f"{example.name} should break {_schema_of(example)}"
    assert all(e.path.startswith("$") and e.message for e in errors)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_payload_has_valid_and_invalid_examples(payload: str) -> None:
    for kind in ("valid", "invalid"):
        assert [p for p in _example_files(kind) if _schema_of(p) == f"hems/v1/{payload}"], (kind, payload)


def test_example_file_names_name_a_schema() -> None:
    known = set(contracts.list_contracts())
    for example in _example_files("valid") + _example_files("invalid"):
        assert _schema_of(example) in known, example.name
        assert re.fullmatch(r"[a-z-]+\.[A-Za-z0-9_-]+\.json", example.name), example.name


def test_proposal_schedule_validates_verbatim() -> None:
    assert contracts.validate("hems/v1/schedule-set", json.loads(PROPOSAL_SCHEDULE)) == []


def test_proposal_status_validates_verbatim() -> None:
    assert contracts.validate("hems/v1/status", json.loads(PROPOSAL_STATUS)) == []


def test_status_requires_exactly_the_proposal_fields() -> None:
    assert set(contracts.load_schema("hems/v1/status")["required"]) == set(json.loads(PROPOSAL_STATUS))


def test_schema_errors_carry_json_paths() -> None:
    command = json.loads(PROPOSAL_SCHEDULE)
    command["periods"][1]["end"] = "tomorrow"
    command["max_curent"] = command.pop("max_current")
    assert contracts.validate("hems/v1/schedule-set", command) == [
        contracts.ContractError("$.max_curent", "unknown field"),
        contracts.ContractError("$.periods[1].end", "'tomorrow' is not a valid ISO 8601 date-time"),
    ]


def test_huge_values_are_not_echoed_whole() -> None:
    errors = contracts.validate("hems/v1/schedule-set", {"source": "x" * 10_000, "periods": []})
    assert len(errors) == 1
    assert len(errors[0].message) <= contracts.MAX_MESSAGE_CHARS


# --- the AsyncAPI document -----------------------------------------------------------------------------------

EXPECTED_CHANNELS = {
    "{prefix}/{device_type}/{topic_id}/schedule/set": ("receive", False),
    "{prefix}/{device_type}/{topic_id}/schedule/clear": ("receive", False),
    "{prefix}/{device_type}/{topic_id}/schedule/result": ("send", False),
    "{prefix}/{device_type}/{topic_id}/status": ("send", True),
    "{prefix}/{device_type}/{topic_id}/capabilities": ("send", True),
    "{prefix}/agent/availability": ("send", True),
    "{prefix}/controller/availability": ("receive", True),
    "{prefix}/agent/operation_mode/set": ("receive", False),
    "{prefix}/agent/operation_mode/result": ("send", False),
}


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((V1 / "asyncapi.yaml").read_text(encoding="utf-8"))
    return document


def test_asyncapi_is_a_valid_asyncapi_3_document(asyncapi: dict[str, Any]) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    AsyncAPI3.model_validate(asyncapi)


def test_asyncapi_structural_check_catches_mistakes(asyncapi: dict[str, Any]) -> None:
    broken = yaml.safe_load(yaml.safe_dump(asyncapi))
    broken["operations"]["sendStatus"]["action"] = "publish"
    with pytest.raises(ValueError, match="action"):
        AsyncAPI3.model_validate(broken)


def test_every_asyncapi_reference_resolves(asyncapi: dict[str, Any]) -> None:
    count = 0
    for ref in references(asyncapi):
        target, _, pointer = ref.partition("#")
        document = asyncapi if not target else json.loads((V1 / target).read_text(encoding="utf-8"))
        assert _pointer(document, pointer) is not None, ref
        count += 1
    assert count > 50


def test_asyncapi_channels_are_the_contract_topics(asyncapi: dict[str, Any]) -> None:
    addresses = {channel["address"] for channel in asyncapi["channels"].values()}
    assert addresses == set(EXPECTED_CHANNELS)


def test_asyncapi_channel_parameters_match_the_address(asyncapi: dict[str, Any]) -> None:
    for key, channel in asyncapi["channels"].items():
        named = set(re.findall(r"\{([a-z_]+)\}", channel["address"]))
        assert named == set(channel.get("parameters", {})), key
        for parameter in channel["parameters"].values():
            assert _resolve(asyncapi, parameter).get("description"), key


def test_asyncapi_operations_direction_qos_and_retain(asyncapi: dict[str, Any]) -> None:
    seen = set()
    for key, operation in asyncapi["operations"].items():
        channel = _resolve(asyncapi, operation["channel"])
        action, retain = EXPECTED_CHANNELS[channel["address"]]
        assert operation["action"] == action, key
        assert operation["bindings"]["mqtt"] == {"qos": 1, "retain": retain, "bindingVersion": "0.2.0"}, key
        channel_key = operation["channel"]["$ref"].removeprefix("#/channels/")
        for message in operation["messages"]:
            assert message["$ref"].startswith(f"#/channels/{channel_key}/messages/"), key
        seen.add(channel["address"])
    assert seen == set(EXPECTED_CHANNELS)


def test_asyncapi_last_will_marks_the_agent_offline(asyncapi: dict[str, Any]) -> None:
    will = asyncapi["servers"]["broker"]["bindings"]["mqtt"]["lastWill"]
    assert will == {"topic": "hems/agent/availability", "qos": 1, "message": "offline", "retain": True}
    assert contracts.validate("hems/v1/availability", will["message"]) == []


def test_asyncapi_messages_cover_every_payload_schema(asyncapi: dict[str, Any]) -> None:
    referenced = {message["payload"]["$ref"] for message in asyncapi["components"]["messages"].values()}
    assert referenced == {f"./{name}.schema.json" for name in PAYLOADS}


def _asyncapi_examples() -> Iterator[tuple[str, str, Any]]:
    document = yaml.safe_load((V1 / "asyncapi.yaml").read_text(encoding="utf-8"))
    for key, message in document["components"]["messages"].items():
        schema = "hems/v1/" + message["payload"]["$ref"].removeprefix("./").removesuffix(".schema.json")
        assert message.get("examples"), key
        for example in message["examples"]:
            yield f"{key}:{example['name']}", schema, example["payload"]


@pytest.mark.parametrize(("label", "schema", "payload"), list(_asyncapi_examples()), ids=lambda v: str(v)[:40])
def test_asyncapi_message_examples_validate(label: str, schema: str, payload: Any) -> None:
    assert contracts.validate(schema, payload) == [], label


def test_asyncapi_carries_the_proposal_example(asyncapi: dict[str, Any]) -> None:
    examples = asyncapi["components"]["messages"]["scheduleSet"]["examples"]
    assert json.loads(PROPOSAL_SCHEDULE) in [example["payload"] for example in examples]


def test_readme_names_every_topic_and_schema() -> None:
    readme = (contracts.CONTRACTS_DIR / "README.md").read_text(encoding="utf-8")
    for address in EXPECTED_CHANNELS:
        assert f"`{address}`" in readme, address
    for name in contracts.list_contracts():
        assert name.removeprefix("hems/v1/") + ".schema.json" in readme, name


# --- helpers -------------------------------------------------------------------------------------------------


def _pointer(document: Any, pointer: str) -> Any:
    node = document
    for raw in [part for part in pointer.split("/") if part]:
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node.get(part)
        if node is None:
            return None
    return node


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = _pointer(document, node["$ref"].removeprefix("#"))
    return node


# --- third-party validators, offline ---------------------------------------------------------------------------

OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


def check_jsonschema(schema: Path, instances: list[Path], cache: Path) -> subprocess.CompletedProcess[str]:
    """`check-jsonschema --schemafile SCHEMA FILE...` as the HEMS guide tells a HEMS developer, with no network."""
    command = [str(Path(sys.executable).with_name("check-jsonschema")), "--schemafile", str(schema)]
    env = {**os.environ, **OFFLINE, "XDG_CACHE_HOME": str(cache)}
    return subprocess.run([*command, *map(str, instances)], capture_output=True, text=True, env=env, timeout=60)


def test_the_guide_shows_the_check_jsonschema_command() -> None:
    guide = (REPO_ROOT / "docs" / "hems-integration.md").read_text(encoding="utf-8")
    assert "check-jsonschema --schemafile schedule-set.schema.json command.json" in guide


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_every_example_validates_offline_with_check_jsonschema(name: str, tmp_path: Path) -> None:
    schema = V1 / f"{name}.schema.json"  # the published file itself, as `check-jsonschema --schemafile` takes it
    valid = sorted((V1 / "examples" / "valid").glob(f"{name}.*.json"))
    invalid = sorted((V1 / "examples" / "invalid").glob(f"{name}.*.json"))
    assert valid, f"no valid example of {name}"
    done = check_jsonschema(schema, valid, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Unretrievable" not in done.stdout + done.stderr
    if invalid:
        refused = check_jsonschema(schema, invalid, tmp_path)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        for path in invalid:
            assert f"{path}::" in refused.stdout, f"{path.name} was not refused:\n{refused.stdout}"


# --- the compiled validator agrees with the reference -----------------------------------------------------------

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(
        [
            "", "hems", "standalone", "online", "offline", "1", "1.0", "1.1", "2", "1.01", "x" * 65, "c-1",
            "2025-12-04T22:00:00+01:00", "2025-12-04T22:00:00", "2025-12-04T22:00:00Z", "2025-12-04 22:00:00",
            "2025-12-04T24:00:00Z", "2025-12-04T22:00:00.123456789+01:00", "idle", "charging", "accepted",
        ]
    ),
)  # fmt: skip
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                      max_size=3), max_leaves=6)  # fmt: skip


def _known_keys(schema: Any) -> list[str]:
    keys: set[str] = set()
    for node in [schema, *schema.get("$defs", {}).values()]:
        if isinstance(node, dict):
            keys.update(node.get("properties", {}))
    return sorted(keys)


@st.composite
def mutated(draw: st.DrawFn, name: str) -> Any:
    """A valid example of `name` with a few random changes: keys dropped, added, renamed or given other values."""
    examples = [json.loads(p.read_text()) for p in sorted((V1 / "examples" / "valid").glob(f"{name}.*.json"))]
    document = copy.deepcopy(draw(st.sampled_from(examples)))
    keys = _known_keys(contracts.load_schema(f"hems/v1/{name}"))
    for _ in range(draw(st.integers(0, 3))):
        target = document
        if (
            isinstance(target, dict)
            and isinstance(target.get("periods"), list)
            and target["periods"]
            and draw(st.booleans())
        ):
            target = draw(st.sampled_from(target["periods"]))
        if not isinstance(target, dict):
            return draw(VALUES)
        action = draw(st.sampled_from(["drop", "set", "add"]))
        if action == "drop" and target:
            target.pop(draw(st.sampled_from(sorted(target))))
        elif action == "set" and target:
            target[draw(st.sampled_from(sorted(target)))] = draw(VALUES)
        else:
            target[draw(st.sampled_from([*keys, "max_curent", "priority"]))] = draw(VALUES)
    return document


@pytest.mark.parametrize("name", sorted(PAYLOADS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_compiled_validator_agrees_with_the_reference(name: str, data: st.DataObject) -> None:
    instance = data.draw(st.one_of(mutated(name), VALUES), label="payload")
    reference = not list(contracts.validator(f"hems/v1/{name}").iter_errors(instance))
    assert contracts.conforms(f"hems/v1/{name}", instance) is reference, instance
