"""Reading a raw MQTT payload as a HEMS command document: size, UTF-8, strict JSON, or plain text.

Strict: a key twice in one object, `NaN`/`Infinity`, lone surrogate escapes and documents nested too deeply
are refused with a reason fit for the answer, never an exception.
"""

from __future__ import annotations

import json
from typing import Any

from energy_agent.hems.contracts import clip


class Unreadable(Exception):
    """The payload is not a JSON document we can look into; the message says why."""


class DuplicateKeyError(ValueError):
    """A key appears twice in one JSON object."""


def decode_json(payload: bytes, max_payload_bytes: int) -> Any:
    """The JSON document of a payload; Unreadable says why there is none."""
    if len(payload) > max_payload_bytes:
        raise Unreadable(f"payload is {len(payload)} bytes; at most {max_payload_bytes} are accepted")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"payload is not UTF-8 text (byte {exc.start})") from None
    try:
        document = json.loads(text, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise Unreadable(f"payload is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:
        raise Unreadable(f"payload is not acceptable JSON: {clip(str(exc))}") from None
    except RecursionError:
        raise Unreadable("payload is nested too deeply") from None
    try:
        # JSON escapes can smuggle in lone surrogates, which could not be echoed back in a result.
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError, ValueError):
        raise Unreadable("payload holds a string that is not valid Unicode (a lone surrogate escape)") from None
    return document


def plain_text(payload: bytes, max_payload_bytes: int) -> str | None:
    """The payload as stripped UTF-8 text, or None when it is too large or not UTF-8."""
    if len(payload) > max_payload_bytes:
        return None
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKeyError(f"key {key!r} appears twice in one object")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
