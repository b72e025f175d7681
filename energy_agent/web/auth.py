"""Who may use the web page, and which requests may change something.

Checked on every request, before its handler, in this order:

1. Behind Home Assistant ingress (`web.ingress`), only the ingress proxy may connect: Home Assistant has already
   logged the owner in, and any other peer on the network is refused.
2. With a password (`web.password`), every request must carry it, as HTTP Basic credentials with any user name:
   the browser asks once and sends it with each request of the page, the live feed included. Without one the page
   is bound to loopback (the config refuses anything else), and the `Host` a request names must be a loopback
   name too, so that a web site whose name resolves to 127.0.0.1 (DNS rebinding) cannot read or drive the page.
3. A request that changes something (POST) must come from the page itself: `Sec-Fetch-Site: same-origin`, or, from
   a browser that does not send that header, an `Origin` naming this very host; a request from no browser at all
   (neither header, e.g. curl) has no cookie or session to abuse and is let through. Its body must be JSON, which
   no plain HTML form can send.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from energy_agent.config import WebSettings
from energy_agent.machine import is_loopback

INGRESS_PROXY = "172.30.32.2"
"""The address Home Assistant's ingress proxy connects from (fixed by the Supervisor)."""
REALM = "energy-agent"
CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Access:
    """The rules for one server (see the module docstring)."""

    password: str | None = None
    only_from: str | None = None
    """The one peer address allowed (the ingress proxy); None: any peer that passes the other checks."""
    loopback_only: bool = True
    """No password and no ingress: the `Host` header must name a loopback host."""

    @classmethod
    def from_settings(cls, settings: WebSettings) -> Access:
        """The rules `web:` asks for."""
        password = settings.password.get_secret_value() if settings.password is not None else None
        return cls(
            password=password or None,
            only_from=INGRESS_PROXY if settings.ingress else None,
            loopback_only=not password and not settings.ingress,
        )

    def refusal(self, request: web.Request) -> web.Response | None:
        """The answer that refuses `request`, or None when it may go on to its handler."""
        if self.only_from is not None and request.remote != self.only_from:
            return _refused(403, "only Home Assistant's ingress proxy may connect to this page")
        if self.loopback_only and not is_loopback(_host_name(request.host)):
            return _refused(403, f"this page answers only to a loopback host name, not {request.host[:80]!r}")
        if self.password is not None and not self._has_password(request):
            response = _refused(401, "the password is needed (any user name)")
            response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
            return response
        if request.method in CHANGING:
            why = cross_site(request)
            if why is not None:
                return _refused(403, f"refused: not sent by this page ({why})")
            if request.content_type != "application/json":
                return _refused(415, "send the change as application/json")
        return None

    def _has_password(self, request: web.Request) -> bool:
        assert self.password is not None
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        _, found, given = decoded.partition(":")
        return bool(found) and hmac.compare_digest(given.encode(), self.password.encode())


def cross_site(request: web.Request) -> str | None:
    """Why a changing request does not come from the page itself; None when it does (or from no browser)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return None if site == "same-origin" else f"Sec-Fetch-Site: {site[:40]}"
    origin = request.headers.get("Origin")
    if origin is None:
        return None
    if urlsplit(origin).netloc.lower() == request.host.lower():
        return None
    return f"Origin: {origin[:80]}"


def _host_name(host: str) -> str:
    """The name part of a `Host` header (`[::1]:9714` → `::1`, `localhost:9714` → `localhost`)."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _refused(status: int, why: str) -> web.Response:
    return web.Response(
        status=status, text=json.dumps({"accepted": False, "errors": [why]}), content_type="application/json"
    )
