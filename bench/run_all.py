"""Run every benchmark against one private Mosquitto, print a table and write bench/results/latest.json.

.venv/bin/python bench/run_all.py [--quick] [--only NAME,...] [--out FILE]

Each benchmark runs as its own process (`python -m bench.<module> --port P --out FILE`), one after another, so
that memory and CPU figures are its own. Targets are checked as benchmarks, not tests: a MISS is reported, not
raised; the exit code is 1 only when a benchmark could not run. The machine is shared and noisy: the figures are
medians, and each latency or throughput figure stands beside a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import fmt, machine  # noqa: E402
from bench.broker import running_broker  # noqa: E402

BENCHMARKS: dict[str, tuple[list[str], bool]] = {
    # name: (module and arguments, needs the broker)
    "planning": (["bench.bench_planning_year"], False),
    "ready_by": (["bench.bench_ready_by"], False),
    "hems_latency": (["bench.bench_latency"], True),
    "throughput": (["bench.bench_throughput"], True),
    "scale_1000": (["bench.bench_scale"], True),
    "process": (["bench.bench_process"], True),
    "cloud_calls": (["bench.bench_cloud_calls"], True),
    "ocpp_latency": (["bench.bench_ocpp"], True),
    "web_page": (["bench.bench_web"], True),
}
TIMEOUT_S = {False: 1200, True: 180}  # per benchmark, full / quick


def run_one(name: str, module: list[str], port: int | None, quick: bool, workdir: Path) -> dict[str, Any]:
    """Run one benchmark process; its summary lines go to stderr as it runs."""
    out = workdir / f"{name}.json"
    command = [sys.executable, "-m", *module, "--out", str(out)]
    if port is not None:
        command += ["--port", str(port)]
    if quick:
        command.append("--quick")
    began = time.monotonic()
    try:
        completed = subprocess.run(command, cwd=ROOT, timeout=TIMEOUT_S[quick], stdout=subprocess.PIPE, check=False)
    except subprocess.TimeoutExpired:
        return {"benchmark": name, "error": f"timed out after {TIMEOUT_S[quick]} s", "ran_s": TIMEOUT_S[quick]}
    ran_s = time.monotonic() - began
    if completed.returncode != 0 or not out.exists():
        return {"benchmark": name, "error": f"exit code {completed.returncode}", "ran_s": ran_s}
    result: dict[str, Any] = json.loads(out.read_text())
    result["benchmark"] = name
    result["ran_s"] = ran_s
    return result


def git_state() -> dict[str, Any]:
    """The commit measured, and whether the working tree had changes."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "modified_files": len(status.splitlines()) if status else 0}


def table(results: list[dict[str, Any]]) -> str:
    """The results as a fixed-width text table."""
    rows = [("benchmark", "metric", "value", "target", "result", "detail")]
    for result in results:
        if "error" in result:
            rows.append((result["benchmark"], "(did not run)", "-", "", "ERROR", result["error"]))
            continue
        for metric in result["metrics"]:
            verdict = "" if metric["ok"] is None else ("PASS" if metric["ok"] else "MISS")
            value = f"{fmt(metric['value'])} {metric['unit']}".strip()
            rows.append((result["benchmark"], metric["name"], value, metric["target"] or "", verdict, metric["detail"]))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]),
                 row[3].ljust(widths[3]), row[4].ljust(widths[4]), row[5]]  # fmt: skip
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths) + "  ------")
    return "\n".join(lines)


def main() -> int:
    """Start the broker, run the benchmarks, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and shorter runs (about a minute)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args()
    chosen = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in chosen if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    started_at = datetime.now(UTC)
    began = time.monotonic()
    where = machine()
    print(
        f"energy-agent benchmarks{' (--quick)' if args.quick else ''}: {where['nproc']} CPUs, {where['cpu_model']}, "
        f"Python {where['python']}, {where['mosquitto']}",
        file=sys.stderr,
    )
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        workdir = Path(tmp)
        with running_broker(workdir / "broker") as broker:
            for index, name in enumerate(chosen, 1):
                module, needs_broker = BENCHMARKS[name]
                print(f"== [{index}/{len(chosen)}] {name}", file=sys.stderr, flush=True)
                result = run_one(name, module, broker.port if needs_broker else None, args.quick, workdir)
                print(
                    f"   {result['ran_s']:.1f} s{' ' + result['error'] if 'error' in result else ''}", file=sys.stderr
                )
                results.append(result)
    total_s = time.monotonic() - began
    checks = [m["ok"] for r in results for m in r.get("metrics", []) if m["ok"] is not None]
    errors = [r["benchmark"] for r in results if "error" in r]
    print()
    print(table(results))
    print()
    for result in results:
        for note in result.get("notes", []):
            print(f"note ({result['benchmark']}): {note}")
    print(f"{checks.count(True)} PASS, {checks.count(False)} MISS, {len(errors)} ERROR in {total_s:.0f} s")
    document = {
        "generated_at": started_at.isoformat(),
        "command": " ".join([".venv/bin/python", "bench/run_all.py", *sys.argv[1:]]),
        "quick": args.quick,
        "duration_s": total_s,
        "git": git_state(),
        "machine": where,
        "loadavg_at_end": os.getloadavg(),
        "summary": {"pass": checks.count(True), "miss": checks.count(False), "error": errors},
        "benchmarks": {r["benchmark"]: r for r in results},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"written {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
