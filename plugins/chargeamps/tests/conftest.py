"""Fixtures of the Charge Amps plugin's tests: a private Mosquitto and an MQTT recorder (from energy_agent.testing)."""

from __future__ import annotations

from energy_agent.testing.fixtures import broker, recorder

__all__ = ["broker", "recorder"]
