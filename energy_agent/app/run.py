"""Running the agent as a process: signal handling and a bounded, clean shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal

from energy_agent.api.clock import Clock
from energy_agent.app.compose import build_agent
from energy_agent.app.plugins import Registry
from energy_agent.config import CoreSettings

log = logging.getLogger(__name__)


async def run_agent(settings: CoreSettings, registry: Registry, *, clock: Clock | None = None) -> None:
    """Run an agent until SIGTERM or SIGINT; it then publishes `offline`, disconnects and returns."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _stopper(stop, signum))
    try:
        await build_agent(settings, registry, clock=clock).run(stop)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def _stopper(stop: asyncio.Event, signum: int):  # type: ignore[no-untyped-def]
    def handle() -> None:
        log.info("received %s", signal.Signals(signum).name)
        stop.set()

    return handle
