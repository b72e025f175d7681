"""Why a command was refused, in a word a HEMS can act on, and whether sending it again may succeed.

Every refusal carries a `reason` and a `retry` flag next to its human-readable errors: `retry: true` means the
command itself was fine and the same payload may be sent again later (the device could not be reached, or did
not answer in time); `retry: false` means resending it unchanged will be refused again.
"""

from __future__ import annotations

from enum import Enum

from energy_agent.api.errors import (
    DeviceAuthError,
    DeviceError,
    DeviceRejectedError,
    DeviceTimeoutError,
    DeviceUnavailableError,
)
from energy_agent.hems.commands import Issue


class Reason(Enum):
    """The machine-readable reason of a refusal (`reason` in the result payloads)."""

    INVALID = "invalid"
    """The payload broke the contract or the device's limits; `errors` says where."""
    WRONG_MODE = "wrong_mode"
    """The agent is in standalone mode and takes no HEMS schedule commands."""
    RETAINED = "retained"
    """The command was published retained: it would be replayed at every restart, so it is never applied."""
    DEVICE_UNAVAILABLE = "device_unavailable"
    """The device (or its cloud) cannot be reached now, or is not up yet after the agent started."""
    DEVICE_REJECTED = "device_rejected"
    """The device understood the request and refused it."""
    DEVICE_AUTH = "device_auth"
    """The device or its cloud refused the agent's credentials: the owner must fix the configuration."""
    TIMEOUT = "timeout"
    """The device did not answer in time; the agent reads back what it holds and reports it in the status."""

    @property
    def retry(self) -> bool:
        """True when the same command may succeed if sent again later."""
        return self in _TRANSIENT


_TRANSIENT = frozenset({Reason.DEVICE_UNAVAILABLE, Reason.TIMEOUT})


def reason_for(error: DeviceError) -> Reason:
    """The reason to report for a device failure (the most specific error class wins)."""
    if isinstance(error, DeviceTimeoutError):
        return Reason.TIMEOUT
    if isinstance(error, DeviceUnavailableError):
        return Reason.DEVICE_UNAVAILABLE
    if isinstance(error, DeviceAuthError):
        return Reason.DEVICE_AUTH
    if isinstance(error, DeviceRejectedError):
        return Reason.DEVICE_REJECTED
    return Reason.DEVICE_REJECTED


def describe(error: DeviceError) -> str:
    """The error's text as the answer's `errors[0].message`, saying what kind of failure it was."""
    reason = reason_for(error)
    lead = {
        Reason.TIMEOUT: "the device did not answer in time (it may still take the command; see the status)",
        Reason.DEVICE_UNAVAILABLE: "the device cannot be reached now",
        Reason.DEVICE_AUTH: "the device refused the agent's credentials",
    }.get(reason, "the device refused it")
    return f"{lead}: {error}"


RETAINED = Issue(
    "$",
    "a retained command is never applied (it would be replayed at every restart); publish commands with retain=false",
)
"""The error of every command refused for `Reason.RETAINED`, on every command topic."""
