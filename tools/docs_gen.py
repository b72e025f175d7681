"""Generated files: the configuration reference, the hooks reference, the HEMS topic table and the bundled schemas.

    python -m tools.docs_gen configuration > docs/configuration.md
    python -m tools.docs_gen hooks        # print the hooks block of docs/writing-plugins.md
    python -m tools.docs_gen topics       # print the topic table of docs/hems-integration.md
    python -m tools.docs_gen --write      # rewrite every generated file and block in docs/
    python -m tools.docs_gen --check      # exit 1 and name what is out of date

Blocks inside hand-written pages sit between `<!-- NAME:start -->` and `<!-- NAME:end -->`. The
configuration reference covers the core's settings, the built-in price sources and the plugins of this
repository (`plugins/*/pyproject.toml`), which must be installed (`./scripts/setup`). tests/test_docs.py
fails when anything generated here differs from what is committed.
"""

from __future__ import annotations

import argparse
import ast
import enum
import importlib
import inspect
import itertools
import json
import re
import sys
import textwrap
import tomllib
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from energy_agent.api import hooks as hookspecs
from energy_agent.api.errors import PluginError
from energy_agent.app.plugins import ENTRY_POINT_GROUP, Registry, collect, get_plugin_manager
from energy_agent.config import CONFIG_ENV, ENV_PREFIX, SECRET_KEY_PARTS, CoreSettings
from tools.bundle_contracts import bundled_files

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (this module is meant to run from a source checkout)."""
CONFIGURATION_PAGE = "docs/configuration.md"
BLOCKS = {"hooks": "docs/writing-plugins.md", "topics": "docs/hems-integration.md"}
"""Generated block name → the page that holds it."""
CONTRACT_DIR = "contracts/hems/v1"
REGENERATE = "python -m tools.docs_gen --write"


# -- helpers -----------------------------------------------------------------------------------------


def cell(text: str) -> str:
    """Text safe for one Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def code(text: object) -> str:
    """Inline code, widened when the text itself holds backticks."""
    shown = str(text)
    return f"`` {shown} ``" if "`" in shown else f"`{shown}`"


def replace_block(page: str, name: str, content: str) -> str:
    """`page` with the text between `<!-- name:start -->` and `<!-- name:end -->` replaced by `content`."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(start) + r"\n.*?" + re.escape(end), re.DOTALL)
    if len(pattern.findall(page)) != 1:
        raise ValueError(f"expected exactly one {start} ... {end} block")
    return pattern.sub(lambda _: f"{start}\n{content.rstrip()}\n{end}", page)


def read_block(page: str, name: str) -> str:
    """The text between the markers of block `name` (without them)."""
    start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
    _, found, rest = page.partition(start)
    if not found or end not in rest:
        raise ValueError(f"no <!-- {name}:start --> ... <!-- {name}:end --> block")
    return rest.split(end, 1)[0]


# -- the plugins documented --------------------------------------------------------------------------


@dataclass(frozen=True)
class RepositoryPlugin:
    """One entry point of a plugin distribution under `plugins/`."""

    distribution: str
    entry_point: str
    module: str
    folder: str


def repository_plugins(root: Path = ROOT) -> list[RepositoryPlugin]:
    """The `energy_agent` entry points declared by `plugins/*/pyproject.toml`, sorted by distribution."""
    found = []
    for pyproject in sorted(root.glob("plugins/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        for name, module in sorted(project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {}).items()):
            folder = pyproject.parent.relative_to(root).as_posix()
            found.append(RepositoryPlugin(project["name"], name, module, folder))
    return found


def plugin_registry(plugin: RepositoryPlugin | None) -> Registry:
    """What the built-ins register, plus `plugin` when given (imported directly, not through the environment)."""
    pm = get_plugin_manager(load_entry_points=False)
    if plugin is not None:
        try:
            module = importlib.import_module(plugin.module)
        except ImportError as exc:
            raise PluginError(
                f"{plugin.distribution} ({plugin.folder}) is not installed: {exc}; run ./scripts/setup"
            ) from exc
        pm.register(module, name=plugin.entry_point)
    return collect(pm)


# -- configuration reference -------------------------------------------------------------------------


def _attribute_docs(model: type[BaseModel]) -> dict[str, str]:
    """Docstrings written under fields (`x: int = 1` then `\"\"\"...\"\"\"`), through the model's bases."""
    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for first, second in itertools.pairwise(body):
            if (
                isinstance(first, ast.AnnAssign)
                and isinstance(first.target, ast.Name)
                and isinstance(second, ast.Expr)
                and isinstance(second.value, ast.Constant)
                and isinstance(second.value.value, str)
            ):
                docs[first.target.id] = inspect.cleandoc(second.value.value)
    return docs


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _union_members(annotation: Any) -> tuple[Any, ...]:
    annotation = _strip(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return tuple(_strip(a) for a in typing.get_args(annotation))
    return (annotation,)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Models a field holds directly, in a union, or as list items."""
    found: list[type[BaseModel]] = []
    for member in _union_members(annotation):
        if typing.get_origin(member) is list:
            found.extend(_models_in(typing.get_args(member)[0]))
        elif isinstance(member, type) and issubclass(member, BaseModel):
            found.append(member)
    return found


def type_text(annotation: Any) -> str:
    """A short human name of a field's type."""
    annotation = _strip(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(annotation)
        named = list(dict.fromkeys(type_text(a) for a in members if a is not type(None)))
        return " or ".join(named) + (" or null" if type(None) in members else "")
    if origin is typing.Literal:
        return "one of " + ", ".join(code(v) for v in typing.get_args(annotation))
    if origin is list:
        item = type_text(typing.get_args(annotation)[0])
        return "list of objects" if item == "object" else f"list of {item}"
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"map of {type_text(key)} to {type_text(value)}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(code(m.value) for m in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    names = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path", SecretStr: "string"}
    if annotation in names:
        return names[annotation]
    return getattr(annotation, "__name__", str(annotation))


def constraints_text(info: FieldInfo) -> str:
    """Bounds, lengths and patterns pydantic checks for a field, e.g. `1..65535`."""
    found: dict[str, Any] = {}
    for item in info.metadata:
        for attr in ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern"):
            value = getattr(item, attr, None)
            if value is not None:
                found[attr] = value
    parts = []
    low = ("ge", found["ge"]) if "ge" in found else ("gt", found["gt"]) if "gt" in found else None
    high = ("le", found["le"]) if "le" in found else ("lt", found["lt"]) if "lt" in found else None
    if low and high and low[0] == "ge" and high[0] == "le":
        parts.append(f"{low[1]}..{high[1]}")
    else:
        symbols = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
        parts.extend(f"{symbols[bound[0]]} {bound[1]}" for bound in (low, high) if bound is not None)
    if "min_length" in found or "max_length" in found:
        low_len, high_len = found.get("min_length"), found.get("max_length")
        if low_len is not None and high_len is not None:
            parts.append(f"{low_len} to {high_len} long")
        elif low_len is not None:
            parts.append(f"at least {low_len} long")
        else:
            parts.append(f"at most {high_len} long")
    if "pattern" in found:
        parts.append(f"matches {code(found['pattern'])}")
    return ", ".join(parts)


def default_text(info: FieldInfo) -> str:
    """How a field's default reads in the reference."""
    factory = info.default_factory
    if factory is not None:
        if isinstance(factory, type) and issubclass(factory, BaseModel):
            return "see below"
        if factory in (list, dict):
            return code(json.dumps(factory()))
        return "computed at start"
    if info.default is PydanticUndefined:
        return "**required**"
    value = info.default
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        return code(value)
    return code(yaml.safe_dump(value, default_flow_style=True).removesuffix("\n...\n").strip())


def is_secret(path: str, annotation: Any) -> bool:
    """A value that is masked by `check-config` and never logged."""
    return SecretStr in _union_members(annotation) or any(part in path for part in SECRET_KEY_PARTS)


def _description(info: FieldInfo, name: str, attribute_docs: dict[str, str]) -> str:
    text = info.description or attribute_docs.get(name) or ""
    if not text:
        models = _models_in(info.annotation)
        if len(models) == 1 and models[0].__doc__:
            text = inspect.cleandoc(models[0].__doc__).split("\n\n")[0]
    return text


def _discriminator(models: list[type[BaseModel]]) -> str | None:
    """The field whose literal value tells the members of a union apart."""
    if len(models) < 2:
        return None
    for name, info in models[0].model_fields.items():
        if typing.get_origin(_strip(info.annotation)) is typing.Literal and all(
            name in m.model_fields and typing.get_origin(_strip(m.model_fields[name].annotation)) is typing.Literal
            for m in models
        ):
            return name
    return None


@dataclass
class _Table:
    """One model's keys under one path."""

    title: str
    path: str
    model: type[BaseModel]
    intro: str = ""


def _anchor(title: str) -> str:
    """The anchor GitHub gives a heading."""
    slug = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return slug.replace(" ", "-")


def _tables_for(path: str, model: type[BaseModel], title: str, intro: str = "") -> Iterator[_Table]:
    """A table for `model` at `path`, then tables for the models its fields hold."""
    yield _Table(title, path, model, intro)
    for name, info in model.model_fields.items():
        models = _models_in(info.annotation)
        if not models:
            continue
        is_list = any(typing.get_origin(m) is list for m in _union_members(info.annotation))
        child = f"{path}.{name}[]" if is_list else f"{path}.{name}"
        key = _discriminator(models)
        for member in models:
            literal = typing.get_args(_strip(member.model_fields[key].annotation))[0] if key else None
            heading = f"{child} with {key}: {literal}" if key else child
            yield from _tables_for(child, member, heading, _model_intro(member))


def _fields_in_order(model: type[BaseModel]) -> list[tuple[str, FieldInfo]]:
    """The model's fields, its own before the ones it inherits: a kind's keys, then the keys kinds share."""
    own = [name for name in inspect.get_annotations(model) if name in model.model_fields]
    inherited = [name for name in model.model_fields if name not in own]
    return [(name, model.model_fields[name]) for name in own + inherited]


def _model_intro(model: type[BaseModel]) -> str:
    return inspect.cleandoc(model.__doc__ or "").split("\n\n")[0]


def _table_markdown(table: _Table, level: int, links: dict[str, str]) -> str:
    lines = [f"{'#' * level} {table.title}", ""]
    if table.intro:
        lines += [table.intro, ""]
    attribute_docs = _attribute_docs(table.model)
    lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, info in _fields_in_order(table.model):
        path = f"{table.path}.{name}".lstrip(".")
        kind = type_text(info.annotation)
        limits = constraints_text(info)
        if limits:
            kind += f", {limits}"
        meaning = _description(info, name, attribute_docs)
        annotation = _strip(info.annotation)
        if not meaning and typing.get_origin(annotation) is typing.Literal and len(typing.get_args(annotation)) == 1:
            meaning = f"Selects this kind: write `{name}: {typing.get_args(annotation)[0]}`."
        if is_secret(path, info.annotation):
            meaning = f"**Secret**: masked by `check-config`, never logged. {meaning}"
        models = _models_in(info.annotation)
        if models:
            targets = [links[m.__qualname__ + ":" + path] for m in models if m.__qualname__ + ":" + path in links]
            if targets:
                meaning += " See " + ", ".join(targets) + "."
        lines.append(f"| {code(path)} | {cell(kind)} | {cell(default_text(info))} | {cell(meaning)} |")
    return "\n".join(lines)


def _section_markdown(tables: list[_Table], level: int) -> str:
    links: dict[str, str] = {}
    for table in tables[1:]:
        parent = table.path.removesuffix("[]")
        links[table.model.__qualname__ + ":" + parent] = f"[{table.title}](#{_anchor(table.title)})"
    blocks = [_table_markdown(tables[0], level, links)]
    blocks += [_table_markdown(t, level + 1, links) for t in tables[1:]]
    return "\n\n".join(blocks)


CONFIGURATION_INTRO = f"""\
# Configuration reference

<!-- Generated by `python -m tools.docs_gen configuration` from the settings models. Do not edit:
     change the models and run `{REGENERATE}`. tests/test_docs.py fails when this page is out of date. -->

The agent reads one YAML file, given with `--config PATH` or in `${CONFIG_ENV}`. Every key is optional
unless marked **required**; an unknown key, a wrong type or a value out of range stops the agent with one
line per problem naming the key (exit code 2). `energy-agent check-config --config PATH` prints the
effective settings with secrets masked. An example file is
[`examples/energy-agent.yaml`](../examples/energy-agent.yaml).

**Environment variables** override the file: `{ENV_PREFIX}` plus the key path in capitals, with `__` between
levels. Lists and maps take JSON.

```sh
export ENERGY_AGENT_MQTT__HOST=broker.local
export ENERGY_AGENT_MQTT__PASSWORD='s3cret'
export ENERGY_AGENT_STANDALONE__PRICE_THRESHOLD=0.2
export ENERGY_AGENT_CHARGEAMPS__CONNECTOR_IDS='[1, 2]'
```

Units are in the names: `_s` seconds, `_a` ampere, `_kw` kW, `_eur_kwh` EUR/kWh. Keys marked **Secret**
are masked by `check-config`; prefer environment variables for them. The running agent masks each one as
`***` in every spelling (as it is, JSON-escaped, URL-encoded, in any case, and as HTTP Basic credentials
with the user name next to it) in every log line, every MQTT payload it publishes and every answer of its
health endpoint. A secret shorter than four characters is masked too, and then also hides the same letters
wherever else they occur: choose longer ones.
`a..b` in the type column is an inclusive range.
"""


def configuration_markdown(root: Path = ROOT) -> str:
    """The whole of docs/configuration.md."""
    core = plugin_registry(None)
    parts = [CONFIGURATION_INTRO]
    core_fields = CoreSettings.model_fields
    top = [name for name, info in core_fields.items() if not _models_in(info.annotation)]
    sections = [name for name in core_fields if name not in top]

    parts.append("## Top level\n\nKeys at the top of the file; each section below is a key of its own.\n")
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    docs = _attribute_docs(CoreSettings)
    for name in top:
        info = core_fields[name]
        kind = type_text(info.annotation)
        rows.append(
            f"| {code(name)} | {cell(kind)} | {cell(default_text(info))} | {cell(_description(info, name, docs))} |"
        )
    plugins = repository_plugins(root)
    section_rows = [(name, _model_intro(_models_in(core_fields[name].annotation)[0]), "core") for name in sections]
    if core.price_sources:
        section_rows.append(("prices", "Where standalone mode reads prices; the kind is chosen by `source`.", "core"))
    plugin_sections: list[tuple[RepositoryPlugin, str, type[BaseModel]]] = []
    for plugin in plugins:
        registry = plugin_registry(plugin)
        for name, model in sorted(registry.all_sections.items()):
            if name not in core.all_sections:
                plugin_sections.append((plugin, name, model))
                section_rows.append((name, _model_intro(model), f"plugin `{plugin.distribution}`"))
    for name, intro, owner in section_rows:
        rows.append(f"| {code(name)} | section | see [{name}](#{_anchor(name)}) | {cell(intro)} ({owner}) |")
    parts.append("\n".join(rows) + "\n")

    for name in sections:
        model = _models_in(core_fields[name].annotation)[0]
        env = f"{ENV_PREFIX}{name.upper()}__<KEY>"
        intro = f"{_model_intro(model)} Environment: {code(env)}."
        parts.append(_section_markdown(list(_tables_for(name, model, name, intro)), 2) + "\n")

    if core.price_sources:
        parts.append(
            "## prices\n\nWhere standalone mode reads day-ahead prices. `source` picks the kind; each kind has "
            "its own keys. Without a `prices` section the agent plans nothing in standalone mode (and says so).\n"
        )
        for source, price_type in sorted(core.price_sources.items()):
            model = price_type.config_model
            title = f"prices with source: {source}"
            parts.append(_section_markdown(list(_tables_for("prices", model, title, _model_intro(model))), 3) + "\n")

    if plugin_sections:
        parts.append(
            "## Plugin sections\n\nEach device plugin owns one top-level section, validated by the plugin's "
            "model with the same error lines as the core's keys. A section that is absent means: no such devices.\n"
        )
        for plugin, name, model in plugin_sections:
            intro = (
                f"{_model_intro(model)} Plugin `{plugin.distribution}`, in [`{plugin.folder}/`](../{plugin.folder}/)."
            )
            parts.append(_section_markdown(list(_tables_for(name, model, name, intro)), 3) + "\n")
    return "\n".join(parts).rstrip() + "\n"


# -- hooks reference ---------------------------------------------------------------------------------


def hook_specs() -> list[Callable[..., Any]]:
    """The hook specifications of `energy_agent.api.hooks`, in source order."""
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    found = [value for value in vars(hookspecs).values() if inspect.isfunction(value) and hasattr(value, marker)]
    return sorted(found, key=lambda f: f.__code__.co_firstlineno)


def _signature_text(function: Callable[..., Any]) -> str:
    """`(name: type, ...) -> type` as written in the source (annotations are strings there)."""
    signature = inspect.signature(function)
    params = [
        name if p.annotation is inspect.Parameter.empty else f"{name}: {p.annotation}"
        for name, p in signature.parameters.items()
    ]
    returns = "" if signature.return_annotation is inspect.Signature.empty else f" -> {signature.return_annotation}"
    return f"({', '.join(params)}){returns}"


def hooks_markdown() -> str:
    """The hooks reference block of docs/writing-plugins.md."""
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    lines = [
        f"<!-- Generated from energy_agent/api/hooks.py by `{REGENERATE}`; do not edit. -->",
        "",
        "| hook | what it is for |",
        "|---|---|",
    ]
    specs = hook_specs()
    for spec in specs:
        summary = inspect.cleandoc(spec.__doc__ or "").split("\n")[0]
        lines.append(f"| [`{spec.__name__}`](#{spec.__name__}) | {cell(summary)} |")
    for spec in specs:
        signature = _signature_text(spec)
        options = getattr(spec, marker)
        flags = [f"`{key}`" for key in ("firstresult", "historic") if options.get(key)]
        lines += ["", f"#### {spec.__name__}", "", "```python", f"{spec.__name__}{signature}", "```", ""]
        lines.append(inspect.cleandoc(spec.__doc__ or "(no docstring)"))
        if flags:
            lines += ["", f"Options: {', '.join(flags)}."]
    return "\n".join(lines) + "\n"


# -- topic table -------------------------------------------------------------------------------------


DIRECTION = {"receive": "HEMS → agent", "send": "agent → HEMS"}


def topics_markdown(root: Path = ROOT) -> str:
    """The topic table of docs/hems-integration.md, from the AsyncAPI document."""
    document = yaml.safe_load((root / CONTRACT_DIR / "asyncapi.yaml").read_text(encoding="utf-8"))
    lines = [
        f"<!-- Generated from {CONTRACT_DIR}/asyncapi.yaml by `{REGENERATE}`; do not edit. -->",
        "",
        "| topic | direction | retained | payload | what |",
        "|---|---|---|---|---|",
    ]
    operations = document["operations"].values()
    for key, channel in document["channels"].items():
        operation = next(op for op in operations if op["channel"]["$ref"] == f"#/channels/{key}")
        retained = "yes" if operation["bindings"]["mqtt"]["retain"] else "no"
        schemas = []
        for message in channel["messages"].values():
            name = message["$ref"].rsplit("/", 1)[-1]
            schema = document["components"]["messages"][name]["payload"]["$ref"].removeprefix("./")
            link = f"[`{schema.removesuffix('.schema.json')}`](../{CONTRACT_DIR}/{schema})"
            if link not in schemas:
                schemas.append(link)
        what = cell(channel.get("description", channel.get("title", "")))
        direction = DIRECTION[operation["action"]]
        lines.append(f"| `{channel['address']}` | {direction} | {retained} | {', '.join(schemas)} | {what} |")
    return "\n".join(lines) + "\n"


# -- command line ------------------------------------------------------------------------------------

GENERATORS: dict[str, Callable[[Path], str]] = {
    "configuration": configuration_markdown,
    "hooks": lambda root: hooks_markdown(),
    "topics": topics_markdown,
}


def expected_files(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file's path and the text it should hold now."""
    files = {root / CONFIGURATION_PAGE: configuration_markdown(root)}
    files.update(bundled_files(root / CONTRACT_DIR))
    for name, page in BLOCKS.items():
        path = root / page
        files[path] = replace_block(path.read_text(encoding="utf-8"), name, GENERATORS[name](root))
    return files


def stale_files(root: Path = ROOT) -> list[Path]:
    """Generated files whose committed text differs from what the generators make now."""
    return [
        path
        for path, text in expected_files(root).items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    """Print one generated document, or write / check them all."""
    parser = argparse.ArgumentParser(prog="python -m tools.docs_gen", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("what", nargs="?", choices=sorted(GENERATORS), help="print this generated text")
    parser.add_argument("--write", action="store_true", help="rewrite every generated file and block in docs/")
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated file is out of date")
    args = parser.parse_args(argv)
    if args.what:
        sys.stdout.write(GENERATORS[args.what](ROOT))
        return 0
    if args.write:
        for path, text in expected_files(ROOT).items():
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.relative_to(ROOT)}")
        return 0
    if args.check:
        stale = stale_files(ROOT)
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date; run {REGENERATE}", file=sys.stderr)
        return 1 if stale else 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
