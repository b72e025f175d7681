"""Root pytest configuration: the test run behaves as on a machine where an agent already runs.

The agent's default ports (health 9713, web 9714) are held for the whole session, as a running agent or
`energy-agent demo` would hold them: a test that relies on a default port instead of a free one fails here,
not only on a user's machine.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

AGENT_DEFAULT_PORTS = (9713, 9714)


@pytest.fixture(scope="session", autouse=True)
def agent_default_ports_taken() -> Iterator[None]:
    """Listen on the agent's default ports for the session (a port already taken stays taken by its owner)."""
    held: list[socket.socket] = []
    for port in AGENT_DEFAULT_PORTS:
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            sock.close()  # something on this machine holds it already: the same situation
            continue
        held.append(sock)
    try:
        yield
    finally:
        for sock in held:
            sock.close()
