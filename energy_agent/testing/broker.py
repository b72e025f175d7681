"""An MQTT broker inside the agent's process (amqtt), for the zero-setup demo. MQTT 3.1.1 only."""

from __future__ import annotations

import logging
import socket
from typing import Any

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedBrokerMissing(RuntimeError):
    """amqtt, the embedded broker, is not installed (it is the `demo` extra, not a dependency of the agent)."""


class EmbeddedBroker:
    """An anonymous broker on loopback; `start()` returns its port."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._broker: Any = None

    async def start(self) -> int:
        """Start listening."""
        try:
            from amqtt.broker import Broker  # imported here: only the demo needs it
        except ImportError:
            raise EmbeddedBrokerMissing(
                "the embedded MQTT broker needs amqtt, which `energy-agent run` does not: "
                "pip install 'energy-agent[demo]' (./scripts/setup installs it), or use a broker of your own"
            ) from None

        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._broker = Broker(config)
        await self._broker.start()
        log.info("embedded MQTT broker (amqtt, MQTT 3.1.1) on %s:%d", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        """Stop the broker."""
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None
