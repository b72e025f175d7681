"""Test support for the core's tests and for plugin authors' tests (`pytest` is only needed for `fixtures`).

- `ManualClock`: time that moves only when the test says (`await clock.advance(3600)`).
- `Mosquitto`: a private broker process on a free port; `fixtures.broker` and `fixtures.recorder` for pytest.
- `Recorder` / `recording`: an MQTT client that records what is published.
- `EmbeddedBroker`: an in-process MQTT 3.1.1 broker (the demo's), when no Mosquitto is installed.
- `plugin_registry`, `load_config`, `running_agent`: a whole agent built as `energy-agent run` builds it.
- `sample_curve`, `curve_json`: a realistic day-ahead price curve.
- `eventually`: wait in real time for work that crosses sockets.
"""

from energy_agent.testing.agent import RunningAgent, load_config, plugin_registry, running_agent
from energy_agent.testing.broker import EmbeddedBroker, free_port
from energy_agent.testing.clock import ManualClock
from energy_agent.testing.mosquitto import Mosquitto, MosquittoNotFoundError
from energy_agent.testing.prices import curve_json, sample_curve
from energy_agent.testing.recorder import Recorder, recording
from energy_agent.testing.waiting import eventually

__all__ = [
    "EmbeddedBroker",
    "ManualClock",
    "Mosquitto",
    "MosquittoNotFoundError",
    "Recorder",
    "RunningAgent",
    "curve_json",
    "eventually",
    "free_port",
    "load_config",
    "plugin_registry",
    "recording",
    "running_agent",
    "sample_curve",
]
