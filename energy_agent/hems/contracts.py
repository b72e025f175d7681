"""The published MQTT contract: find, load and apply the versioned JSON Schemas under `contracts/`.

The schemas are the source of truth for every payload exchanged with a HEMS; this module only reads them.
Schema names are paths without the suffix, e.g. `hems/v1/schedule-set` for
`contracts/hems/v1/schedule-set.schema.json`. Each published schema is self-contained (bundled from the sources
in `src/`), so it validates alone, with no `$ref` to another file and nothing fetched.

Two validators read the same schema. A payload is checked first by a compiled one (fastjsonschema, about 30 µs
for a schedule where the reference `jsonschema` takes about 350 µs); only a payload it refuses goes to
`jsonschema`, which names every fault with its path for the answer. The schemas use only keywords that draft-07
also defines, which is what the compiled validator speaks; a test holds the two to the same verdicts. `jsonschema`
is imported on the first refusal, not at start (it costs the agent about 9 MB of memory).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastjsonschema

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

CONTRACT_VERSION = "1.2"
"""The contract version this agent speaks (major.minor); v1 grows only by optional fields."""

CONTRACT_MAJOR = CONTRACT_VERSION.split(".", 1)[0]
"""The major part of `CONTRACT_VERSION`, as published in the capabilities' `contract_versions`."""

TOPIC_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""What a `{topic_id}` or `{device_type}` topic segment may be; use with `re.fullmatch`."""

SCHEMA_SUFFIX = ".schema.json"
SOURCES_DIR_NAME = "src"
"""Sources the published schemas are bundled from; they are loadable by name, never listed as messages."""
INSTALLED_DIR_NAME = "_contracts"
"""Where a wheel puts the contracts folder inside the package."""
MAX_MESSAGE_CHARS = 240
"""Longest message `validate` returns; a huge offending value is cut rather than echoed whole."""

_OUR_MINOR = int(CONTRACT_VERSION.split(".")[1])


def find_contracts_dir(package_dir: Path) -> Path:
    """The contracts folder for the package installed at `package_dir` (the `energy_agent` folder)."""
    # An installed wheel carries the folder inside the package (see force-include in pyproject.toml);
    # a source checkout has it at the repository root.
    for candidate in (package_dir / INSTALLED_DIR_NAME, package_dir.parent / "contracts"):
        if (candidate / "hems").is_dir():
            return candidate
    return package_dir / INSTALLED_DIR_NAME


CONTRACTS_DIR: Path = find_contracts_dir(Path(__file__).resolve().parents[1])
"""Folder holding the versioned schemas, from a source checkout or an installed package."""


@dataclass(frozen=True, slots=True)
class ContractError:
    """One way a payload breaks a contract: where (a JSON path such as `$.periods[1].end`) and what."""

    path: str
    message: str


def is_newer_minor(contract_version: object) -> bool:
    """True when `contract_version` names a v1 minor newer than ours, whose extra fields we must tolerate."""
    if not isinstance(contract_version, str):
        return False
    match = re.fullmatch(r"1\.(0|[1-9][0-9]{0,5})", contract_version)
    return match is not None and int(match.group(1)) > _OUR_MINOR


def list_contracts() -> list[str]:
    """Names of every published schema (one per message), sorted, e.g. `hems/v1/schedule-set`."""
    return sorted(name for name in _schema_files() if f"/{SOURCES_DIR_NAME}/" not in f"/{name}")


def load_schema(name: str) -> dict[str, Any]:
    """A fresh copy of the schema `name`; raises KeyError for an unknown name."""
    return copy.deepcopy(_load_cached(name))


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """The reference validator for the schema `name` (self-contained: it resolves nothing outside itself)."""
    from jsonschema import Draft202012Validator, FormatChecker

    return Draft202012Validator(_load_cached(name), format_checker=FormatChecker())


DRAFT_07 = "http://json-schema.org/draft-07/schema#"


@functools.cache
def compiled(name: str) -> Any:
    """The compiled validator for the schema `name`: a function that raises on a payload the schema refuses."""
    schema = {**_load_cached(name), "$schema": DRAFT_07}
    return fastjsonschema.compile(schema, use_formats=False)


def conforms(name: str, instance: Any) -> bool:
    """True when `instance` conforms to the schema `name` (the compiled validator's verdict)."""
    try:
        compiled(name)(instance)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def validate(name: str, instance: Any) -> list[ContractError]:
    """Every way `instance` breaks the schema `name`, sorted by path; empty when it conforms."""
    if conforms(name, instance):
        return []
    found: list[tuple[tuple[tuple[int, str], ...], ContractError]] = []
    for error in validator(name).iter_errors(instance):
        for parts, item in _explain(error):
            found.append((_sort_key(parts), item))
    found.sort(key=lambda pair: (pair[0], pair[1].message))
    return list(dict.fromkeys(item for _, item in found))


def json_path(parts: Iterable[str | int]) -> str:
    """A JSON path such as `$.periods[1].end` for the given keys and indices."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            text += f".{part}"
        else:
            escaped = part.replace("\\", "\\\\").replace("'", "\\'")
            text += f"['{escaped}']"
    return text


def _schema_files() -> dict[str, Path]:
    return {
        path.relative_to(CONTRACTS_DIR).as_posix().removesuffix(SCHEMA_SUFFIX): path
        for path in CONTRACTS_DIR.rglob(f"*{SCHEMA_SUFFIX}")
    }


@functools.cache
def _load_cached(name: str) -> dict[str, Any]:
    # Only names found on disk are read, so a name like "../x" cannot reach other files.
    path = _schema_files().get(name)
    if path is None:
        raise KeyError(f"no contract schema named {name!r}; known: {', '.join(list_contracts())}")
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def _explain(error: ValidationError) -> list[tuple[list[str | int], ContractError]]:
    parts: list[str | int] = list(error.absolute_path)
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator in ("anyOf", "oneOf") and error.context:
        # "is not valid under any of the given schemas" says nothing; the branch that got furthest does.
        return _explain(_deepest(error.context))
    if error.validator == "enum" and "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
        key: str = error.instance
        return [([*parts, key], ContractError(json_path([*parts, key]), "unknown field"))]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(schema.get("properties", {}))
        extra = [key for key in error.instance if key not in known]
        return [([*parts, key], ContractError(json_path([*parts, key]), "unknown field")) for key in extra]
    if error.validator == "pattern":
        title = schema.get("title", "value")
        return [(parts, ContractError(json_path(parts), clip(f"{error.instance!r} is not a valid {title}")))]
    return [(parts, ContractError(json_path(parts), clip(error.message)))]


def clip(message: str) -> str:
    """`message` cut to the contract's longest message."""
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"


def _deepest(errors: Iterable[ValidationError]) -> ValidationError:
    # Prefer the error deepest in the instance, then one that is not a bare type mismatch.
    return max(errors, key=lambda e: (len(e.absolute_path), e.validator != "type"))


def _sort_key(parts: Iterable[str | int]) -> tuple[tuple[int, str], ...]:
    return tuple((0, f"{part:012d}") if isinstance(part, int) else (1, part) for part in parts)
