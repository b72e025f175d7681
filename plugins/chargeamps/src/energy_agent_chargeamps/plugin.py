"""Hook implementations of the Charge Amps plugin."""

from __future__ import annotations
