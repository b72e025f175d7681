"""pytest fixtures for plugin tests: a private Mosquitto and a recorder of everything published on it.

Use them from a `conftest.py`: `from energy_agent.testing.fixtures import broker, recorder`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from energy_agent.testing.mosquitto import Mosquitto, MosquittoNotFoundError
from energy_agent.testing.recorder import Recorder, recording


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A fresh Mosquitto on a free port for this test; a missing binary fails the test, saying how to install it."""
    try:
        instance = Mosquitto(tmp_path)
    except MosquittoNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
async def recorder(broker: Mosquitto) -> AsyncIterator[Recorder]:
    """A client subscribed to `#` on the test broker."""
    async with recording(broker.host, broker.port) as instance:
        yield instance
