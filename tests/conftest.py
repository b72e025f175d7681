"""Shared fixtures: a private Mosquitto broker and an MQTT recorder per test (from energy_agent.testing)."""

from __future__ import annotations

from energy_agent.testing.fixtures import broker, recorder

__all__ = ["broker", "recorder"]
