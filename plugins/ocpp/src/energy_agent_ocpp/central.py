"""The central system: one websockets server per agent, the handshake check, and a session per connection.

A charger connects to `ws://HOST:PORT/{charge_point_id}` (any path before the last segment is allowed) with
the subprotocol `ocpp1.6` and HTTP Basic auth, user = its identity, password = the configured one. Anything
else is refused at the handshake with one log line per charge point and reason (repeats go to DEBUG): the
line names the remote address, the sanitised identity and the reason, never a password.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import os
import ssl
import sys
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from energy_agent.api import Clock, ConfigError, Metrics
from energy_agent_ocpp.config import OcppConfig
from energy_agent_ocpp.link import ChargePointLink
from energy_agent_ocpp.safe import shown
from energy_agent_ocpp.session import ChargePointSession, TransactionIds

log = logging.getLogger(__name__)

SUBPROTOCOL = "ocpp1.6"


class _WebsocketsLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The websockets library's own lines, at most one line each: a failure (a port scanner's garbage, a client
    that hangs up mid-handshake) is logged with the exception's type only, never its text or traceback, which
    would carry what a stranger sent."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        exc_info = kwargs.pop("exc_info", None)
        if exc_info:
            error = sys.exc_info()[1] if exc_info is True else exc_info
            kind = type(error).__name__ if isinstance(error, BaseException) else "error"
            super().log(logging.INFO, "%s (%s)", msg, kind, **kwargs)
            return
        super().log(level, msg, *args, **kwargs)


_websockets_logger = logging.getLogger("energy_agent_ocpp.websockets")
if _websockets_logger.level == logging.NOTSET:
    _websockets_logger.setLevel(logging.WARNING)  # each connection opened and refused would be a line otherwise
WEBSOCKETS_LOG = _WebsocketsLog(_websockets_logger, {})
MAX_REMEMBERED_REFUSALS = 1000


@dataclass(frozen=True)
class Refusal:
    """Why a handshake is refused: the HTTP status, a short kind, and a sentence for the log (already safe)."""

    status: HTTPStatus
    kind: str
    reason: str


def identity_from_path(path: str) -> str:
    """The charge point identity: the last non-empty segment of the URL path, percent-decoded."""
    segments = [s for s in urlsplit(path).path.split("/") if s]
    return unquote(segments[-1]) if segments else ""


def _basic_credentials(headers: Headers) -> tuple[str, str] | None:
    header = headers.get("Authorization")
    if header is None:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, colon, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if colon else None


def check_handshake(config: OcppConfig, path: str, headers: Headers) -> tuple[str, Refusal | None]:
    """The identity asked for, and a Refusal when the connection must not be accepted.

    An unknown identity and a wrong password get the same answer (401), so that nobody learns which ids exist.
    """
    charge_point_id = identity_from_path(path)
    who = shown(charge_point_id)
    if not charge_point_id:
        return charge_point_id, Refusal(HTTPStatus.NOT_FOUND, "no_id", "no charge point identity in the URL path")
    charge_point = config.charge_point(charge_point_id)
    if charge_point is None:
        return charge_point_id, Refusal(
            HTTPStatus.UNAUTHORIZED, "unknown_id", f"unknown charge point {who} (not in ocpp.charge_points)"
        )
    credentials = _basic_credentials(headers)
    if credentials is None:
        return charge_point_id, Refusal(
            HTTPStatus.UNAUTHORIZED, "no_password", f"charge point {who} sent no HTTP Basic credentials"
        )
    user, password = credentials
    if user != charge_point_id:
        return charge_point_id, Refusal(
            HTTPStatus.UNAUTHORIZED, "wrong_user", f"charge point {who} authenticated as {shown(user)}, not as itself"
        )
    expected = charge_point.password.get_secret_value().encode()
    if not hmac.compare_digest(password.encode(), expected):
        return charge_point_id, Refusal(HTTPStatus.UNAUTHORIZED, "wrong_password", f"wrong password for {who}")
    offered = [p.strip() for value in headers.get_all("Sec-WebSocket-Protocol") for p in value.split(",")]
    if SUBPROTOCOL not in offered:
        what = ", ".join(shown(p, 20) for p in offered if p) or "none"
        return charge_point_id, Refusal(
            HTTPStatus.BAD_REQUEST, "subprotocol", f"charge point {who} offers subprotocol {what}, not {SUBPROTOCOL}"
        )
    return charge_point_id, None


class CentralSystem:
    """The agent's OCPP 1.6J central system: started by the first connector device, stopped after the last."""

    def __init__(self, config: OcppConfig, clock: Clock, *, metrics: Metrics | None = None) -> None:
        self.config = config
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.links = {cp.id: ChargePointLink(cp) for cp in config.charge_points}
        self.refusals: list[tuple[str, str]] = []
        """(kind, sanitised identity) of refused handshakes, oldest first (at most MAX_REMEMBERED_REFUSALS)."""
        self._logged_refusals: set[tuple[str, str]] = set()
        self._transaction_ids = TransactionIds(clock.now())
        self._server: Server | None = None
        self._users = 0
        self._lock = asyncio.Lock()

    @property
    def port(self) -> int:
        """The port it listens on (useful with `listen.port: 0`)."""
        if self._server is None:
            raise RuntimeError("the central system is not running")
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """Where chargers connect, without the identity."""
        scheme = "wss" if self.config.tls else "ws"
        host = self.config.listen.host
        return f"{scheme}://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{self.port}"

    def link(self, charge_point_id: str) -> ChargePointLink:
        """The link of a configured charge point."""
        return self.links[charge_point_id]

    async def acquire(self) -> None:
        """A device starts using the central system; the first one starts the server."""
        async with self._lock:
            if self._users == 0:
                await self.start()
            self._users += 1

    async def release(self) -> None:
        """A device stops using it; the last one stops the server."""
        async with self._lock:
            self._users -= 1
            if self._users == 0:
                await self.stop()

    async def start(self) -> None:
        """Listen; ConfigError when the address cannot be had (the port is taken, say)."""
        listen = self.config.listen
        try:
            self._server = await serve(
                self._serve_connection,
                listen.host,
                listen.port,
                subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                process_request=self._check,
                ssl=self._ssl_context(),
                logger=WEBSOCKETS_LOG,
            )
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ConfigError([f"ocpp.listen: cannot listen on {listen.host}:{listen.port}: {reason}"]) from None
        log.info(
            "OCPP 1.6J central system listening on %s/{charge_point_id} for %s",
            self.url,
            ", ".join(self.links),
        )

    def _ssl_context(self) -> ssl.SSLContext | None:
        tls = self.config.tls
        if tls is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(tls.cert_file, tls.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError([f"ocpp.tls: cannot load {tls.cert_file} with {tls.key_file}: {exc}"]) from None
        return context

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
            log.info("OCPP central system stopped")
        for link in self.links.values():
            await link.close()

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        charge_point_id, refusal = check_handshake(self.config, request.path, request.headers)
        if refusal is None:
            return None
        remote = connection.remote_address[0] if connection.remote_address else "?"
        key = (refusal.kind, shown(charge_point_id))
        if len(self.refusals) < MAX_REMEMBERED_REFUSALS:
            self.refusals.append(key)
        if key not in self._logged_refusals:
            if len(self._logged_refusals) >= MAX_REMEMBERED_REFUSALS:
                self._logged_refusals.clear()
            self._logged_refusals.add(key)
            log.warning("refused a connection from %s: %s (HTTP %d)", remote, refusal.reason, refusal.status)
        else:
            log.debug("refused a connection from %s again: %s", remote, refusal.reason)
        response = connection.respond(refusal.status, f"{refusal.status.phrase}\n")
        if refusal.status is HTTPStatus.UNAUTHORIZED:
            response.headers["WWW-Authenticate"] = 'Basic realm="energy-agent OCPP", charset="UTF-8"'
        return response

    async def _serve_connection(self, connection: ServerConnection) -> None:
        link = self.links[identity_from_path(connection.request.path if connection.request else "")]
        session = ChargePointSession(
            link,
            connection,
            clock=self.clock,
            transaction_ids=self._transaction_ids,
            response_timeout_s=self.config.response_timeout_s,
            heartbeat_interval_s=self.config.heartbeat_interval_s,
            meter_value_sample_interval_s=self.config.meter_value_sample_interval_s,
            metrics=self.metrics,
        )
        identity = shown(link.charge_point_id)
        self._logged_refusals = {key for key in self._logged_refusals if key[1] != identity}
        previous = link.attach(session)
        remote = connection.remote_address[0] if connection.remote_address else "?"
        log.info("%s connected from %s", link.charge_point_id, remote)
        if previous is not None:
            log.info("%s: the new connection replaces the one still open", link.charge_point_id)
            await previous.connection.close(1001, "replaced by a new connection")
        try:
            await session.run()
        finally:
            link.detach(session)
            code = connection.close_code
            log.info("%s disconnected (close code %s)", link.charge_point_id, code if code is not None else "none")
