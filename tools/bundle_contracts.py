"""Bundle the contract's JSON Schemas: one self-contained file per message, from the sources in `src/`.

The sources (`contracts/hems/v1/src/*.schema.json`) share definitions through `common.schema.json`; the
published schemas (`contracts/hems/v1/*.schema.json`) carry the definitions they use under `$defs`, refer only
inside themselves (`#/$defs/...`) and have no `$id`, so any validator checks a payload against one file with no
network and no other file: `check-jsonschema --schemafile contracts/hems/v1/schedule-set.schema.json x.json`.
Run through `python -m tools.docs_gen --write`; tests/test_docs.py fails when a bundle is out of date.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

COMMON = "common.schema.json"
COMMON_REF = f"{COMMON}#/$defs/"
LOCAL_REF = "#/$defs/"
GENERATED = "Generated from src/{name} and src/common.schema.json by `python -m tools.docs_gen --write`; do not edit."


def references(node: Any) -> Iterator[str]:
    """Every `$ref` value in a JSON document, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def _rewrite(node: Any) -> Any:
    """A copy of `node` with references into common.schema.json made local."""
    if isinstance(node, dict):
        return {key: _local(value) if key == "$ref" else _rewrite(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    return node


def _local(ref: Any) -> Any:
    return ref.replace(COMMON_REF, LOCAL_REF, 1) if isinstance(ref, str) else ref


def _needed(schema: dict[str, Any], common_defs: dict[str, Any]) -> list[str]:
    """The common definitions `schema` uses, directly or through other definitions, in common's order."""
    wanted: set[str] = set()
    pending = [ref.removeprefix(COMMON_REF) for ref in references(schema) if ref.startswith(COMMON_REF)]
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        if name not in common_defs:
            raise ValueError(f"{COMMON} has no definition {name!r}")
        wanted.add(name)
        pending += [ref.removeprefix(LOCAL_REF) for ref in references(common_defs[name]) if ref.startswith(LOCAL_REF)]
    return [name for name in common_defs if name in wanted]


def bundle(source: dict[str, Any], common: dict[str, Any], name: str) -> dict[str, Any]:
    """The published form of one source schema."""
    for ref in references(source):
        if not ref.startswith((COMMON_REF, LOCAL_REF)):
            raise ValueError(f"{name}: only references into {COMMON} or the schema itself are allowed, not {ref!r}")
    common_defs: dict[str, Any] = common["$defs"]
    own = _rewrite(dict(source.get("$defs", {})))
    needed = _needed(source, common_defs)
    clash = set(own) & set(needed)
    if clash:
        raise ValueError(f"{name}: defines {sorted(clash)} that {COMMON} defines too")
    published = {"$schema": source["$schema"], "$comment": GENERATED.format(name=name)}
    published.update(_rewrite({key: value for key, value in source.items() if key not in ("$schema", "$defs")}))
    defs = {**own, **{key: common_defs[key] for key in needed}}
    if defs:
        published["$defs"] = defs
    return published


def bundled_files(folder: Path) -> dict[Path, str]:
    """Every published schema of a contract folder (e.g. contracts/hems/v1) and the text it should hold."""
    sources = folder / "src"
    common = json.loads((sources / COMMON).read_text(encoding="utf-8"))
    files = {}
    for path in sorted(sources.glob("*.schema.json")):
        if path.name == COMMON:
            continue
        schema = bundle(json.loads(path.read_text(encoding="utf-8")), common, path.name)
        files[folder / path.name] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    return files
