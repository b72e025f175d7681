"""An agent process for the benchmarks: `energy-agent run` plus the bench fake-device plugin.

python -m bench.agent_proc --config FILE --stats FILE [--log-level info]

It runs exactly as `energy-agent run` does (runner.run_agent: signals, `offline` on SIGTERM) with the installed
plugins and `bench.fake_devices` registered; when it exits it writes its device counters, CPU time and peak RSS
to the stats file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import sys
import time
from pathlib import Path

from bench import fake_devices
from energy_agent.app.plugins import collect, get_plugin_manager
from energy_agent.app.run import run_agent
from energy_agent.config import load_settings


def main() -> None:
    """Run the agent until SIGTERM, then write the stats."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of the whole run here")
    args = parser.parse_args()
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr
    )
    pm = get_plugin_manager()
    pm.register(fake_devices, name="bench")
    registry = collect(pm)
    settings = load_settings(registry, args.config, environ=False)
    began = time.monotonic()
    if args.profile is not None:
        import cProfile

        with cProfile.Profile() as profile:
            asyncio.run(run_agent(settings, registry))
        profile.dump_stats(args.profile)
    else:
        asyncio.run(run_agent(settings, registry))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    stats = {
        "ran_s": time.monotonic() - began,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "devices": len(fake_devices.DEVICES),
        "applies": sum(d.applies for d in fake_devices.DEVICES),
        "clears": sum(d.clears for d in fake_devices.DEVICES),
        "reads": sum(d.reads for d in fake_devices.DEVICES),
    }
    args.stats.write_text(json.dumps(stats))


if __name__ == "__main__":
    main()
