"""The request core both Charge Amps APIs share: one timeout per attempt, retries, status → exception.

Transient failures (connection errors, timeouts, 429, 5xx) are retried with exponential backoff (capped at
30 s), a 429 after its Retry-After (honoured up to 300 s; a longer one ends the call); every other 4xx is
final. Sleeps go through an injected `sleep` so tests can record them instead of waiting.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

import aiohttp
from pydantic import TypeAdapter, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from energy_agent.api import Clock
from energy_agent_chargeamps.client.errors import (
    ChargeAmpsAuthError,
    ChargeAmpsConnectionError,
    ChargeAmpsError,
    ChargeAmpsRateLimitError,
    ChargeAmpsRequestError,
    ChargeAmpsResponseError,
    ChargeAmpsServerError,
    ChargeAmpsTimeoutError,
)

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

SleepFn = Callable[[float], Awaitable[None]]
"""Waits the given number of seconds; `asyncio.sleep` unless a test injects a recorder."""

TRANSIENT = (ChargeAmpsConnectionError, ChargeAmpsRateLimitError, ChargeAmpsServerError)
"""Failures worth another attempt: the cloud was unreachable, too busy, or broken for a moment."""
_VENDOR_TEXT_MAX = 200
_REDACTED = "***"
_VENDOR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
"""What a vendor error code looks like (`SCHEDULE_INVALID_DATA`); anything else is not put in a message."""
_REASONS = {400: "bad request", 404: "not found", 405: "method not allowed", 409: "conflict", 422: "invalid request"}
"""The short reason of a refusal that carries no error code."""


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried: `attempts` in all, backoff doubling from `base_delay_s`."""

    attempts: int = 4
    """Attempts in all, the first included; 1 disables retries."""
    base_delay_s: float = 0.5
    """Delay before the first retry; doubled for each further one."""
    max_delay_s: float = 30.0
    """Cap on any one backoff delay (a server's Retry-After has its own cap, `max_retry_after_s`)."""
    max_retry_after_s: float = 300.0
    """Longest Retry-After (of a 429) the client waits for before trying again. A server that asks for a longer
    wait is not retried at all: the call fails at once with the ChargeAmpsRateLimitError, which carries the
    asked wait, rather than trying again before the server said it would answer."""
    jitter: float = 0.1
    """Each backoff is stretched by up to this fraction, at random, so clients do not retry in step."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.base_delay_s < 0 or self.max_delay_s < 0 or self.max_retry_after_s < 0:
            raise ValueError("RetryPolicy delays must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError("RetryPolicy.jitter must be between 0 and 1")

    def delay_s(self, retry_number: int, *, retry_after_s: float | None = None, random_fraction: float = 0.0) -> float:
        """Seconds to wait before retry `retry_number` (1-based); a server's Retry-After wins, capped at
        `max_retry_after_s` (a longer one is not retried, see `retries`)."""
        if retry_after_s is not None:
            return min(max(0.0, retry_after_s), self.max_retry_after_s)
        backoff = self.base_delay_s * 2.0 ** (retry_number - 1) * (1.0 + self.jitter * random_fraction)
        return min(backoff, self.max_delay_s)

    def retries(self, exc: BaseException) -> bool:
        """True when `exc` is worth another attempt: a transient failure, unless a 429 asked for a longer wait
        than `max_retry_after_s`."""
        if not isinstance(exc, TRANSIENT):
            return False
        return not (
            isinstance(exc, ChargeAmpsRateLimitError)
            and exc.retry_after_s is not None
            and exc.retry_after_s > self.max_retry_after_s
        )


def secret_forms(secret: str) -> set[str]:
    """The ways `secret` may read in text a cloud sends back: as it is, JSON-escaped (once, or twice when an
    echoed JSON body sits inside a JSON string), with or without `\\uXXXX` escapes, and URL-encoded."""
    if not secret:
        return set()
    escaped = json.dumps(secret)[1:-1]
    return {
        secret,
        escaped,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(escaped)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
    }


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret, in every form of `secret_forms`, replaced by `***`, cut to a readable length."""
    forms = sorted({form for secret in secrets for form in secret_forms(secret)}, key=len, reverse=True)
    for form in forms:
        text = text.replace(form, _REDACTED)
    if len(text) > _VENDOR_TEXT_MAX:
        text = text[:_VENDOR_TEXT_MAX] + "…"
    return text


def parse_model(adapter: TypeAdapter[T], data: Any, what: str) -> T:
    """Validate a reply body; a mismatch becomes a ChargeAmpsResponseError naming the field (never its value)."""
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        first = errors[0]
        location = ".".join(str(part) for part in first["loc"]) or "(body)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ChargeAmpsResponseError(
            f"{what}: unexpected reply, field {location!r}: {first['msg']}{more}", status=200
        ) from None


def _retry_after_s(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def _vendor_error(body: bytes, content_type: str) -> tuple[str | None, str | None]:
    """The cloud's error code and message from a 4xx body, whichever of its shapes it used."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return None, None
    try:
        data = json.loads(text)
    except ValueError:
        # An HTML error page says nothing useful; plain text usually does.
        return None, (None if "html" in content_type.lower() or text.startswith("<") else text)
    if isinstance(data, str):
        return None, data
    if not isinstance(data, dict):
        return None, None
    code = next((str(data[k]) for k in ("messageCode", "code", "errorCode") if data.get(k) is not None), None)
    message = next(
        (str(data[k]) for k in ("message", "error", "errorMessage", "title", "detail") if data.get(k) is not None),
        None,
    )
    return code, message


class RequestCore:
    """Sends requests to one Charge Amps API, with a timeout per attempt and retries on transient failures."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        clock: Clock,
        timeout_s: float,
        retry: RetryPolicy,
        sleep: SleepFn,
        secrets: Callable[[], Iterable[str]],
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._timeout_s = timeout_s
        self._retry = retry
        self._sleep = sleep
        self._secrets = secrets
        self._random_fraction = random_fraction

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        expect_json: bool = True,
    ) -> Any:
        """Send `method path` and return the decoded JSON body (None when `expect_json` is false).

        Transient failures are retried (tenacity) as `RetryPolicy` says, sleeping through the injected `sleep`.
        """
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts),
            retry=retry_if_exception(self._retry.retries),
            wait=self._delay_s,
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._attempt(method, path, headers, json_body, params, expect_json)
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _delay_s(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after_s = exc.retry_after_s if isinstance(exc, ChargeAmpsRateLimitError) else None
        return self._retry.delay_s(
            state.attempt_number, retry_after_s=retry_after_s, random_fraction=self._random_fraction()
        )

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        message = exc.message if isinstance(exc, ChargeAmpsError) else str(exc)
        delay_s = state.next_action.sleep if state.next_action else 0.0
        _LOGGER.warning(
            "%s; retry %d of %d in %.1f s", message, state.attempt_number, self._retry.attempts - 1, delay_s
        )

    async def _attempt(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        json_body: Any,
        params: Mapping[str, str] | None,
        expect_json: bool,
    ) -> Any:
        what = f"{method} {path}"
        try:
            async with (
                asyncio.timeout(self._timeout_s),
                self._session.request(
                    method, self._base_url + path, headers=dict(headers), json=json_body, params=params
                ) as response,
            ):
                body = await response.read()
                status = response.status
                content_type = response.headers.get("Content-Type", "")
                retry_after = response.headers.get("Retry-After")
        except TimeoutError as exc:
            raise ChargeAmpsTimeoutError(f"{what}: no answer within {self._timeout_s:g} s") from exc
        except aiohttp.ClientError as exc:
            detail = scrub(str(exc) or type(exc).__name__, self._secrets())
            raise ChargeAmpsConnectionError(f"{what}: connection failed ({detail})") from exc
        _LOGGER.debug("%s answered %d", what, status)
        if 200 <= status < 300:
            return self._decode(what, body) if expect_json else None
        raise self._status_error(what, status, body, content_type, retry_after)

    def _decode(self, what: str, body: bytes) -> Any:
        if not body.strip():
            raise ChargeAmpsResponseError(f"{what}: empty reply where JSON was expected", status=200)
        try:
            return json.loads(body)
        except ValueError:
            raise ChargeAmpsResponseError(f"{what}: reply is not valid JSON", status=200) from None

    def _status_error(
        self, what: str, status: int, body: bytes, content_type: str, retry_after: str | None
    ) -> ChargeAmpsError:
        if status == 401:
            return ChargeAmpsAuthError(f"{what} answered 401: credentials or token refused", status=status)
        if status == 403:
            return ChargeAmpsAuthError(f"{what} answered 403: access forbidden", status=status)
        if status == 429:
            retry_after_s = _retry_after_s(retry_after, self._clock.now())
            hint = "" if retry_after_s is None else f", retry after {retry_after_s:g} s"
            return ChargeAmpsRateLimitError(f"{what} answered 429: rate limited{hint}", retry_after_s=retry_after_s)
        if status >= 500:
            return ChargeAmpsServerError(f"{what} answered {status}: server error", status=status)
        code, message = _vendor_error(body, content_type)
        secrets = tuple(self._secrets())
        # The message names the status, the route and a short reason: the cloud's error code when it looks like
        # one, never its free text, since some clouds echo the request body (credentials included) in it.
        code = code if code is not None and _VENDOR_CODE.fullmatch(code) and scrub(code, secrets) == code else None
        message = None if message is None else scrub(message, secrets)
        reason = code or _REASONS.get(status, "request refused")
        return ChargeAmpsRequestError(
            f"{what} answered {status}: {reason}", status=status, vendor_code=code, vendor_message=message
        )
