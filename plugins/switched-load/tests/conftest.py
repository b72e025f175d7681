"""Fixtures of the switched-load tests: the repository's private Mosquitto broker and MQTT recorder, and a fake HA.

Run from the repository root (`./scripts/test`), which puts the core's `tests` package on the path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from switched_load_fakes import FakeHomeAssistant

from energy_agent.testing.fixtures import broker, recorder

__all__ = ["broker", "recorder"]


@pytest.fixture
async def home_assistant() -> AsyncIterator[FakeHomeAssistant]:
    """A fake Home Assistant REST API on a free local port."""
    fake = FakeHomeAssistant()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
