"""Firmware quirks a simulated charger can be given, one flag each, to test how the central system copes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Quirks:
    """What makes this charger awkward; the defaults make a well-behaved one."""

    rejects_tx_default: Literal["Rejected", "NotSupported"] | None = None
    """Answer every TxDefaultProfile with this status (some firmware accepts only TxProfile)."""
    tx_default_only_on_connector_0: bool = False
    """Refuse (Rejected) a TxDefaultProfile on a connector other than 0."""
    max_periods: int = 24
    """ChargingScheduleMaxPeriods: profiles with more periods are Rejected ("few periods": set it low)."""
    max_stack_level: int = 8
    """ChargeProfileMaxStackLevel."""
    answer_delay_s: float = 0.0
    """Wait this long (real time) before answering any call from the central system ("slow answers")."""
    drops_connection_on_profile: bool = False
    """Drop the connection instead of answering SetChargingProfile."""
    supports_composite_schedule: bool = True
    """Answer GetCompositeSchedule (else Rejected)."""
    boots_on_reconnect: bool = True
    """Send BootNotification on every connection (some chargers only at power-up)."""
