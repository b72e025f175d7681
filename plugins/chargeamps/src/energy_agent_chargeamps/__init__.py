"""Charge Amps EV charger plugin for energy-agent."""
