"""The benchmarks stay runnable: every module in bench/ imports, and `run_all.py --help` answers.

The benchmarks themselves are measured, not tested (docs/benchmarks.md); this only catches a bench that a
refactoring broke.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize("module", sorted(p.stem for p in BENCH.glob("*.py") if p.stem != "__init__"))
def test_bench_module_imports(module: str) -> None:
    importlib.import_module(f"bench.{module}")


def test_run_all_answers_help() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "--quick" in done.stdout
