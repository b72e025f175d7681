"""One log record is one line: text from outside (a charge point id from a URL, a cloud's message) cannot forge a
line of its own in the log of `energy-agent run`, and a traceback stays under its record, each line prefixed.

The OCPP plugin already writes a stranger's charge point id as a quoted safe word; the formatter is the second
line of defence, for every logger (the core's, a plugin's, a library's) alike.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import yaml
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from energy_agent.cli.logs import TRACE_PREFIX, AgentLogFormatter, escape_controls
from energy_agent.secrets import SecretMasker
from energy_agent.testing.broker import free_port
from energy_agent.testing.mosquitto import Mosquitto as Broker
from tests.agent_process import running_agent_process

RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+: ")
FORGED = "2026-11-30 12:00:00,000 ERROR   energy_agent: FORGED"


def record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("energy_agent.test", logging.WARNING, __file__, 1, msg, args, exc_info)


def test_control_characters_in_a_message_are_escaped_onto_one_line() -> None:
    formatter = AgentLogFormatter(SecretMasker())
    line = formatter.format(record("refused %s", f"evil\r\n{FORGED}\x1b[31m\x85\u2028\t\x00"))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line.endswith("refused evil\\r\\n" + FORGED + "\\x1b[31m\\x85\\u2028\\t\\x00")
    assert RECORD.match(line), line
    assert escape_controls("plain text, ünïcode and a \\ stay") == "plain text, ünïcode and a \\ stay"


def test_a_traceback_follows_its_record_on_prefixed_lines_with_secrets_masked() -> None:
    formatter = AgentLogFormatter(SecretMasker(["hunter22"]))
    try:
        raise ValueError(f"cloud said hunter22\n{FORGED}")
    except ValueError as exc:
        caught = exc
    lines = formatter.format(record("call failed: %s", "HUNTER22", exc=caught)).split("\n")
    assert RECORD.match(lines[0]) and lines[0].endswith("call failed: ***")
    assert lines[1] == TRACE_PREFIX + "Traceback (most recent call last):"
    assert all(line.startswith(TRACE_PREFIX) for line in lines[1:]), lines
    assert lines[-2:] == [TRACE_PREFIX + "ValueError: cloud said ***", TRACE_PREFIX + FORGED]
    assert "hunter22" not in "\n".join(lines).lower()


def test_stack_info_is_prefixed_too() -> None:
    formatter = AgentLogFormatter(SecretMasker())
    entry = record("here")
    entry.stack_info = "Stack (most recent call last):\n  File x\nnot a record"
    lines = formatter.format(entry).split("\n")
    assert len(lines) == 4 and all(line.startswith(TRACE_PREFIX) for line in lines[1:])


# -- a real agent process with the OCPP plugin -------------------------------------------------------------

CP_PASSWORD = "correct-horse-battery-staple"


@asynccontextmanager
async def ocpp_agent(tmp_path: Path, broker: Broker, port: int) -> AsyncIterator[list[str]]:
    """`energy-agent run --log-level debug` as the OCPP central system of one charge point; yields its stderr."""
    config = tmp_path / "energy-agent.yaml"
    document = {
        "operation_mode": "hems",
        "state_dir": str(tmp_path / "state"),
        "mqtt": {"host": broker.host, "port": broker.port},
        "health": {"enabled": False},
        "ocpp": {
            "listen": {"host": "127.0.0.1", "port": port},
            "charge_points": [{"id": "HALO-123456", "password": CP_PASSWORD, "connectors": [1], "max_current_a": 16}],
        },
    }
    config.write_text(yaml.safe_dump(document))
    async with running_agent_process(config, "--log-level", "debug") as running:
        yield running.lines


async def until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.05)


async def test_a_charge_point_id_with_a_newline_forges_no_log_line(broker: Broker, tmp_path: Path) -> None:
    port = free_port()
    evil = "/evil%0D%0A" + FORGED.replace(" ", "%20") + "%1B[31m%E2%80%A8x"
    credentials = base64.b64encode(f"evil:{CP_PASSWORD}".encode()).decode()
    async with ocpp_agent(tmp_path, broker, port) as log:
        await until(lambda: any("central system listening" in line for line in log))
        for _ in range(2):  # the first refusal is a warning, the next one a debug line
            with pytest.raises(InvalidStatus) as refused:
                async with connect(
                    f"ws://127.0.0.1:{port}{evil}",
                    additional_headers={"Authorization": f"Basic {credentials}"},
                    subprotocols=[Subprotocol("ocpp1.6")],
                    open_timeout=5,
                ):
                    pass
            assert refused.value.response.status_code == 401
        await until(lambda: sum("refused a connection" in line for line in log) == 2)
    text = "\n".join(log)
    refusals = [line for line in log if "refused a connection" in line]
    assert len(refusals) == 2 and all(RECORD.match(line) for line in refusals), text
    assert all(RECORD.match(line) or line.startswith(TRACE_PREFIX) for line in log), text
    assert not any(line.startswith(FORGED[:20]) or "FORGED" in line.split(":", 3)[0] for line in log), text
    assert "\x1b" not in text and "\r" not in text and "\u2028" not in text
    assert CP_PASSWORD not in text and credentials not in text
