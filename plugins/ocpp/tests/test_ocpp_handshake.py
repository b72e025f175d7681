"""The handshake over real websockets: only configured charge points with the right password and subprotocol.

Each refusal is answered at the HTTP level, logged once per charge point and reason, and no log line holds a
password. Security profile 2 (wss) is exercised with a self-signed certificate made by the openssl binary.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from ocpp_harness import PASSWORD, charge_point, running_devices, section, simulated
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidMessage, InvalidStatus
from websockets.typing import Subprotocol

from energy_agent.api import SystemClock
from energy_agent.testing import eventually, free_port
from energy_agent_ocpp.device import OcppConnector

OCPP16 = Subprotocol("ocpp1.6")


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
async def central() -> AsyncIterator[tuple[int, OcppConnector]]:
    """A central system for HALO-123456 on a free port."""
    port = free_port()
    async with running_devices(SystemClock(), section(port)) as devices:
        yield port, devices[0]


async def refused_with(
    url: str, headers: dict[str, str], subprotocols: list[str] | None, ssl_context: ssl.SSLContext | None = None
) -> int:
    offered = None if subprotocols is None else [Subprotocol(p) for p in subprotocols]
    with pytest.raises(InvalidStatus) as caught:
        async with connect(url, additional_headers=headers, subprotocols=offered, open_timeout=5, ssl=ssl_context):
            pass
    return caught.value.response.status_code


@pytest.mark.parametrize(
    ("path", "headers", "subprotocols", "status", "logged"),
    [
        ("/HALO-999", basic("HALO-999", PASSWORD), ["ocpp1.6"], 401, "unknown charge point 'HALO-999'"),
        ("/HALO-123456", basic("HALO-123456", "wrong-password"), ["ocpp1.6"], 401, "wrong password for 'HALO-123456'"),
        ("/HALO-123456", {}, ["ocpp1.6"], 401, "charge point 'HALO-123456' sent no HTTP Basic credentials"),
        ("/HALO-123456", basic("admin", PASSWORD), ["ocpp1.6"], 401, "authenticated as 'admin', not as itself"),
        ("/HALO-123456", basic("HALO-123456", PASSWORD), ["ocpp2.0.1"], 400, "offers subprotocol 'ocpp2.0.1', not"),
        ("/HALO-123456", basic("HALO-123456", PASSWORD), None, 400, "offers subprotocol none, not ocpp1.6"),
        ("/", basic("HALO-123456", PASSWORD), ["ocpp1.6"], 404, "no charge point identity in the URL path"),
        ("/evil%0Aline%1B[31m", basic("x", PASSWORD), ["ocpp1.6"], 401, "unknown charge point 'evil?line??31m'"),
    ],
)
async def test_a_handshake_is_refused_and_logged_once_without_the_password(
    central: tuple[int, OcppConnector],
    caplog: pytest.LogCaptureFixture,
    path: str,
    headers: dict[str, str],
    subprotocols: list[str] | None,
    status: int,
    logged: str,
) -> None:
    port, device = central
    caplog.set_level(logging.DEBUG, logger="energy_agent_ocpp")
    for _ in range(3):
        assert await refused_with(f"ws://127.0.0.1:{port}{path}", headers, subprotocols) == status
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert logged in warnings[0] and warnings[0].startswith("refused a connection from 127.0.0.1: ")
    assert all(PASSWORD not in r.getMessage() and "wrong-password" not in r.getMessage() for r in caplog.records)
    assert all("\n" not in r.getMessage() and "\x1b" not in r.getMessage() for r in caplog.records)
    assert len(device.central.refusals) == 3
    assert not device.link.online


async def test_the_right_charge_point_is_accepted_and_its_status_follows_the_connection(
    central: tuple[int, OcppConnector],
) -> None:
    port, device = central
    assert not (await device.read_status()).online
    async with simulated(SystemClock(), port) as simulator:
        await simulator.wait_connected()
        assert simulator.refusal is None and simulator.connections == 1
        status = await device.read_status()
        assert status.online and status.error is None
    await eventually(lambda: not device.link.online)
    status = await device.read_status()
    assert not status.online and status.error == "charge point HALO-123456 is not connected to the agent"
    assert device.central.refusals == []


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made by the openssl binary (a missing binary fails the test)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_security_profile_2_takes_wss_with_basic_auth_and_refuses_plain_ws(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    document = section(port, charge_point(), tls={"cert_file": str(cert), "key_file": str(key)})
    trust = ssl.create_default_context(cafile=str(cert))
    async with running_devices(SystemClock(), document) as [device]:
        assert device.central.url == f"wss://127.0.0.1:{port}"
        status = await refused_with(f"wss://127.0.0.1:{port}/HALO-123456", {}, ["ocpp1.6"], ssl_context=trust)
        assert status == 401
        async with simulated(SystemClock(), port, scheme="wss", ssl_context=trust) as simulator:
            await simulator.wait_connected()
            assert device.link.online
        with pytest.raises((OSError, InvalidMessage, TimeoutError)):
            async with connect(f"ws://127.0.0.1:{port}/HALO-123456", open_timeout=3, subprotocols=[OCPP16]):
                pass


async def test_garbage_on_the_port_leaves_no_strangers_text_in_the_log(
    central: tuple[int, OcppConnector], caplog: pytest.LogCaptureFixture
) -> None:
    port, device = central
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="energy_agent_ocpp.websockets")  # WARNING by default
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"HELLO \x1b[31mevil-garbage\r\n\r\n")
    await writer.drain()
    await reader.read()  # the server hangs up
    writer.close()
    await eventually(lambda: any("opening handshake failed" in r.getMessage() for r in caplog.records))
    assert not any("evil-garbage" in r.getMessage() or r.exc_info for r in caplog.records if "ocpp" in r.name)
    assert not device.link.online
