"""Test support for the core's tests and for plugin authors' tests (`pytest` is only needed for `fixtures`).

- `ManualClock`: time that moves only when the test says (`await clock.advance(3600)`).
- `Mosquitto`: a private broker process on a free port; `fixtures.broker` and `fixtures.recorder` for pytest.
- `Recorder` / `recording`: an MQTT client that records what is published.
- `EmbeddedBroker`: an in-process MQTT 3.1.1 broker (the demo's), when no Mosquitto is installed.
- `plugin_registry`, `load_config`, `running_agent`/`RunningAgent`: a whole agent built as `energy-agent run`
  builds it; `contract_problems`: a payload checked against the published HEMS contract;
  `app_options_config`: the Home Assistant app's options mapped as `run --ha-options` does;
  `send_hems_command`: a HEMS command and its answer, as `energy-agent hems` sends it; `cli_app`: the
  command line with your plugin, for typer's CliRunner.
- `sample_curve`, `curve_json`: a realistic day-ahead price curve; `machine_timezone`: the zone an agent
  defaults to.
- `eventually`: wait in real time for work that crosses sockets.
- `NoMqtt`: the `DeviceContext.mqtt` of a device test whose device must not use MQTT.
"""

from energy_agent.app.plugins import Registry
from energy_agent.config import CoreSettings
from energy_agent.machine import machine_timezone
from energy_agent.runtime.view import AgentView, DeviceView
from energy_agent.testing.agent import (
    RunningAgent,
    app_options_config,
    cli_app,
    contract_problems,
    load_config,
    plugin_registry,
    running_agent,
    send_hems_command,
)
from energy_agent.testing.broker import EmbeddedBroker, EmbeddedBrokerMissing, free_port
from energy_agent.testing.clock import ManualClock
from energy_agent.testing.mosquitto import Mosquitto, MosquittoNotFoundError
from energy_agent.testing.no_mqtt import NoMqtt
from energy_agent.testing.prices import curve_json, sample_curve
from energy_agent.testing.recorder import Recorder, recording
from energy_agent.testing.waiting import eventually

__all__ = [
    "AgentView",
    "CoreSettings",
    "DeviceView",
    "EmbeddedBroker",
    "EmbeddedBrokerMissing",
    "ManualClock",
    "Mosquitto",
    "MosquittoNotFoundError",
    "NoMqtt",
    "Recorder",
    "Registry",
    "RunningAgent",
    "app_options_config",
    "cli_app",
    "contract_problems",
    "curve_json",
    "eventually",
    "free_port",
    "load_config",
    "machine_timezone",
    "plugin_registry",
    "recording",
    "running_agent",
    "sample_curve",
    "send_hems_command",
]
