"""energy-agent: a plugin-based home energy agent."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("energy-agent")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
