"""The record of every request the simulator received."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from energy_agent_chargeamps.simulator.faults import Fault

SECRET_FIELDS = frozenset({"password", "token", "refreshToken", "apiKey"})
"""Body fields whose values the log keeps out (it is shown in test failures and the demo)."""

REDACTED = "***"
"""What a secret field's value reads as in the log."""

AUTH_ROUTE_MARK = "/auth/"
"""Routes whose template holds this are auth calls, not writes."""


@dataclass(slots=True)
class LoggedRequest:
    """One request: its route template (e.g. "PUT /api/smartChargingSchedules"), body and the status answered.

    `status` stays None while the request is being answered and for a dropped connection.
    """

    method: str
    route: str
    path: str
    query: dict[str, str]
    json_body: Any
    at: datetime
    status: int | None = None
    fault: Fault | None = None

    @property
    def is_write(self) -> bool:
        """True for PUT, POST and DELETE calls other than auth."""
        return self.method in ("PUT", "POST", "DELETE") and AUTH_ROUTE_MARK not in self.route


def redact(body: Any) -> Any:
    """`body` with the values of secret fields replaced."""
    if isinstance(body, dict):
        return {k: (REDACTED if k in SECRET_FIELDS and v is not None else redact(v)) for k, v in body.items()}
    if isinstance(body, list):
        return [redact(item) for item in body]
    return body
