"""The plugin template: a copy installs, passes its own tests and is found through its entry point.

The copy is installed into a throwaway `--target` folder, so this venv is left as it was; its tests and
`energy-agent plugins --json` then run in subprocesses with that folder on PYTHONPATH. With hatchling in
this environment the build runs without isolation (offline, about 1 s); otherwise pip fetches hatchling
into an isolated build environment (a few seconds, and it needs the package index).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "energy-agent-plugin"
TIMEOUT_S = 120


def run(args: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; the assertion message shows it when it fails."""
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def energy_agent_command() -> list[str]:
    """The `energy-agent` script of this environment (the module when the script is not next to Python)."""
    script = Path(sys.executable).with_name("energy-agent")
    return [str(script)] if script.exists() else [sys.executable, "-m", "energy_agent"]


def listed_plugins(env: dict[str, str], cwd: Path) -> dict[str, Any]:
    result = run([*energy_agent_command(), "plugins", "--json"], env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_a_copy_of_the_template_installs_passes_its_tests_and_is_discovered(tmp_path: Path) -> None:
    copy = tmp_path / "energy-agent-example"
    shutil.copytree(TEMPLATE, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "build", "dist"))
    site = tmp_path / "site"
    # a clean environment: no plugin filters from the caller, nothing of the copy importable but what is installed
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGY_AGENT_") and k != "PYTHONPATH"}
    installed_env = {**base_env, "PYTHONPATH": str(site)}

    build_flags = ["--no-build-isolation"] if importlib.util.find_spec("hatchling") else []
    install = run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            *build_flags,
            "--target",
            str(site),
            str(copy),
        ],
        env=base_env,
        cwd=tmp_path,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert (site / "energy_agent_example" / "plugin.py").is_file()

    tests = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], env=installed_env, cwd=copy)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout and "skipped" not in tests.stdout

    before = listed_plugins(base_env, tmp_path)
    assert "example" not in {p["name"] for p in before["plugins"]}
    after = listed_plugins(installed_env, tmp_path)
    assert {"name": "example", "version": "0.1.0", "hooks": ["register_device_types"]} in after["plugins"]
    assert after["device_types"]["example"] == {"config_section": "example"}
