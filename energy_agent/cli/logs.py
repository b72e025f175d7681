"""The log lines of `energy-agent run`: one record, one line, no secret.

Messages carry text from outside: a charge point's id from a WebSocket URL (`%0A` decodes to a newline), a
cloud's error message, a broker's words. Written as they are, a newline in them would start a line that looks
like a record of its own. So the formatter

- masks every configured secret, in every spelling (`energy_agent.secrets`), in the message and the exception
  text;
- writes control characters in the message (C0, DEL, C1, and the Unicode line and paragraph separators) as
  escapes: a newline as `\\n`, a carriage return as `\\r`, a tab as `\\t`, an escape character as `\\x1b`;
- keeps a traceback on the lines after its record, each of them starting with `  | ` (control characters in
  them escaped as well).

A line that starts in the first column is therefore always the start of a record, written by the agent.
"""

from __future__ import annotations

import logging
import sys

from energy_agent.secrets import SecretMasker

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
TRACE_PREFIX = "  | "
"""Starts each line of a traceback (and of `stack_info`) under its record."""

_ESCAPES: dict[int, str] = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_ESCAPES.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", 0x2028: "\\u2028", 0x2029: "\\u2029"})


def escape_controls(text: str) -> str:
    """`text` with every control character written as an escape, so that it stays on one line."""
    return text.translate(_ESCAPES)


class AgentLogFormatter(logging.Formatter):
    """Formats a record as one line, secrets masked (see the module docstring)."""

    def __init__(self, masker: SecretMasker) -> None:
        super().__init__(FORMAT)
        self.masker = masker

    def format(self, record: logging.LogRecord) -> str:
        """The record's line, and its traceback on prefixed lines after it."""
        record.message = escape_controls(self.masker.mask(record.getMessage()))
        record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        extra: list[str] = []
        if record.exc_info:
            extra.append(self.formatException(record.exc_info))
        elif record.exc_text:
            extra.append(record.exc_text)
        if record.stack_info:
            extra.append(self.formatStack(record.stack_info))
        if not extra:
            return line
        lines = self.masker.mask("\n".join(extra)).split("\n")
        return line + "".join(f"\n{TRACE_PREFIX}{escape_controls(text)}" for text in lines)


def setup_logging(level: str) -> SecretMasker:
    """Log records to stderr through `AgentLogFormatter`; returns its masker, empty until secrets are added."""
    masker = SecretMasker()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(AgentLogFormatter(masker))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    return masker
