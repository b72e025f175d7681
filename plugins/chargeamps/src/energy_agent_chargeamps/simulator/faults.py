"""Faults the simulator can inject per route: what they are, when they fire, and the answers they produce."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from enum import Enum

from aiohttp import web


class Fault(Enum):
    """A way the cloud can misbehave."""

    UNAUTHORIZED = "unauthorized"
    """401, as for a token the cloud no longer accepts."""
    FORBIDDEN = "forbidden"
    """403, as when a firewall rule or a permission blocks the call."""
    RATE_LIMITED = "rate_limited"
    """429 with a Retry-After header (`retry_after_s`)."""
    SERVER_ERROR = "server_error"
    """502 (or `status`, e.g. 503) with an HTML body from the proxy in front."""
    SLOW = "slow"
    """Hold the request `delay_s` real seconds BEFORE the API handles it, then handle it and answer (to trip the
    client's timeout). The server does not cancel a handler whose client went away, so a write that timed out
    on the client is still applied, late, unless the simulator stops first. See LATE_ANSWER for the opposite."""
    LATE_ANSWER = "late_answer"
    """Handle the request at once (a write is APPLIED), then hold the answer `delay_s` real seconds: a slow
    answer that completes. A client that times out meanwhile sees a failure although the cloud holds the write."""
    DROP = "drop"
    """Close the connection without answering."""
    MALFORMED_JSON = "malformed_json"
    """200 with a body that is not valid JSON."""
    NUMERIC_STATUS = "numeric_status"
    """Answer normally, but with numeric codes where names are expected (e.g. connector `mode: 2`)."""
    ECHO_BODY = "echo_body"
    """Refuse with 400 (or `status`, a 4xx) and an error body that echoes the request body, as some clouds do:
    the raw request text (so a password holding `"` reads JSON-escaped in it) and the parsed request. Nothing
    is applied."""


class FaultMode(Enum):
    """When an injected fault fires."""

    ONCE = "once"
    """On the next matching request only."""
    EVERY_NTH = "every_nth"
    """On every n-th matching request (the n-th, 2n-th, ...), counted from injection."""
    ALWAYS = "always"
    """On every matching request until cleared."""


ANY_ROUTE = "*"
"""A route key that matches every request."""

_PLACEHOLDER = re.compile(r"\{[^}]*\}")


def normalize_route(route: str) -> str:
    """The form route keys are compared in: upper-case method, one space, placeholders without names.

    So `"GET /api/v5/chargepoints/{chargePointId}/status"` and `"get /api/v5/chargepoints/{id}/status"` match.
    """
    if route.strip() == ANY_ROUTE:
        return ANY_ROUTE
    method, _, path = route.strip().partition(" ")
    return f"{method.upper()} {_PLACEHOLDER.sub('{}', path.strip())}"


@dataclass(slots=True)
class FaultRule:
    """One injected fault for one route key; `seen` and `fired` count matching and faulted requests."""

    route: str
    fault: Fault
    mode: FaultMode = FaultMode.ONCE
    n: int = 1
    retry_after_s: float = 1.0
    delay_s: float = 1.0
    status: int | None = None
    seen: int = 0
    fired: int = 0
    _key: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode is FaultMode.EVERY_NTH and self.n < 1:
            raise ValueError("EVERY_NTH needs n >= 1")
        if self.fault is Fault.SERVER_ERROR and self.status is not None and not 500 <= self.status <= 599:
            raise ValueError("a SERVER_ERROR status must be 5xx")
        if self.fault is Fault.ECHO_BODY and self.status is not None and not 400 <= self.status <= 499:
            raise ValueError("an ECHO_BODY status must be 4xx")
        if self.retry_after_s < 0 or self.delay_s < 0:
            raise ValueError("retry_after_s and delay_s must not be negative")
        self._key = normalize_route(self.route)

    @property
    def spent(self) -> bool:
        """True for a ONCE rule that has fired."""
        return self.mode is FaultMode.ONCE and self.fired > 0

    def matches(self, route_key: str) -> bool:
        """True when this rule applies to a request on `route_key`."""
        return self._key in (ANY_ROUTE, normalize_route(route_key))

    def count_and_check(self) -> bool:
        """Count a matching request; True when the fault fires on it."""
        self.seen += 1
        if self.spent:
            return False
        if self.mode is FaultMode.EVERY_NTH:
            return self.seen % self.n == 0
        return True


@dataclass
class FaultTable:
    """The injected rules, in injection order; the first rule that fires on a request wins."""

    rules: list[FaultRule] = field(default_factory=list)

    def add(self, rule: FaultRule) -> FaultRule:
        """Add a rule and return it."""
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule."""
        self.rules.clear()

    def pick(self, route_key: str) -> FaultRule | None:
        """The rule that fires on this request, if any; every matching rule counts the request."""
        chosen: FaultRule | None = None
        for rule in self.rules:
            if rule.matches(route_key) and rule.count_and_check() and chosen is None:
                chosen = rule
        if chosen is not None:
            chosen.fired += 1
        self.rules = [r for r in self.rules if not r.spent]
        return chosen


_HTML_ERROR = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)

MALFORMED_JSON_BODY = '{"id": "2101000123A", "connectors": [{"connectorId": 1, "mode": "On"'
"""What a MALFORMED_JSON fault sends: JSON cut off in the middle."""


def echo_response(rule: FaultRule, raw_body: bytes) -> web.Response:
    """The answer of an ECHO_BODY fault: a 4xx whose body repeats the request body (text and parsed)."""
    text = raw_body.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = None
    return web.json_response(
        {"error": f"Could not process the request {text}", "messageCode": "INVALID_REQUEST", "request": parsed},
        status=rule.status or 400,
    )


def fault_response(rule: FaultRule) -> web.Response:
    """The answer for a fault that replaces the real one (not SLOW, LATE_ANSWER, DROP, NUMERIC_STATUS, ECHO_BODY)."""
    if rule.fault is Fault.UNAUTHORIZED:
        return web.Response(status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if rule.fault is Fault.FORBIDDEN:
        return web.Response(status=403)
    if rule.fault is Fault.RATE_LIMITED:
        return web.json_response(
            {"error": "Too many requests", "messageCode": "TOO_MANY_REQUESTS"},
            status=429,
            headers={"Retry-After": str(math.ceil(rule.retry_after_s))},
        )
    if rule.fault is Fault.SERVER_ERROR:
        status = rule.status or 502
        reason = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}.get(
            status, "Internal Server Error"
        )
        return web.Response(
            status=status, text=_HTML_ERROR.format(status=status, reason=reason), content_type="text/html"
        )
    if rule.fault is Fault.MALFORMED_JSON:
        return web.Response(status=200, text=MALFORMED_JSON_BODY, content_type="application/json")
    raise ValueError(f"{rule.fault} does not replace the answer")
