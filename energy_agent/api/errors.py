"""The agent's exception hierarchy: plugins translate vendor errors into these at their boundary."""

from __future__ import annotations


class EnergyAgentError(Exception):
    """Base of every error the agent raises on purpose."""


class ConfigError(EnergyAgentError):
    """The configuration is invalid; `problems` holds one line per fault, each naming its key path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class PluginError(EnergyAgentError):
    """A plugin could not be loaded or registered something invalid."""


class DeviceError(EnergyAgentError):
    """A device could not carry out a request; the message is safe to show (no secrets)."""


class DeviceUnavailableError(DeviceError):
    """The device or its cloud cannot be reached right now (connection, timeout, 5xx, rate limit)."""


class DeviceTimeoutError(DeviceUnavailableError):
    """The device did not answer in time: the request may or may not have taken effect (read it back)."""


class DeviceAuthError(DeviceError):
    """The device's credentials were refused."""


class DeviceRejectedError(DeviceError):
    """The device understood the request and refused it."""


class PriceDataError(EnergyAgentError):
    """Price data was missing or malformed."""


class StateError(EnergyAgentError):
    """The persisted state could not be read or written."""
