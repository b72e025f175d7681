"""The layout rules that import-linter cannot see: plugins' and the template's tests use only the public API and
the test support, and no module of the core grows past 400 lines. (The layers, the plugin boundary of the
plugins' own packages and the absence of import cycles are checked by `lint-imports` in CI; see pyproject.toml.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = ("energy_agent.api", "energy_agent.testing")
MAX_MODULE_LINES = 400


def core_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of the core (`energy_agent`, `energy_agent.x`) in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, name) for name in names if name == "energy_agent" or name.startswith("energy_agent.")]
    return found


PLUGIN_FILES = sorted([*ROOT.glob("plugins/*/tests/**/*.py"), *ROOT.glob("templates/**/*.py")])


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_plugin_code_and_tests_import_only_the_public_api(path: Path) -> None:
    outside = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for line, module in core_imports(path)
        if not any(module == public or module.startswith(public + ".") for public in PUBLIC)
    ]
    assert not outside, "plugins may import energy_agent.api (and their tests energy_agent.testing): " + str(outside)


def test_the_check_sees_an_import_of_the_core() -> None:
    assert core_imports(ROOT / "energy_agent" / "cli" / "main.py"), "the scan must find the CLI's core imports"


@pytest.mark.parametrize(
    "path", sorted(ROOT.glob("energy_agent/**/*.py")), ids=lambda p: str(p.relative_to(ROOT / "energy_agent"))
)
def test_core_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it by what it holds"
