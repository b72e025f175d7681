"""Access tokens: read their expiry from the JWT, reuse them until shortly before it, renew them once.

Each Charge Amps account keeps at most 10 live tokens and every login may log the owner's phone app out,
so the manager logs in as rarely as it can: one token shared by all calls, renewed under a lock so that
concurrent calls log in once, refreshed (official API) rather than replaced by a new login where possible,
and at most one renewal per call after a 401.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from energy_agent.api import Clock
from energy_agent_chargeamps.client.errors import ChargeAmpsAuthError, ChargeAmpsRequestError

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class TokenSet:
    """What a login or a refresh yields; the tokens are kept out of `repr`."""

    access_token: str = field(repr=False)
    expires_at: datetime | None
    """When the access token expires (its JWT `exp`); None when the token does not say."""
    refresh_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_tokens(cls, access_token: str, refresh_token: str | None = None) -> TokenSet:
        """Build a token set, reading the access token's expiry from its JWT payload."""
        return cls(access_token=access_token, expires_at=token_expiry(access_token), refresh_token=refresh_token)


def token_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT as an aware UTC datetime, without checking the signature.

    None when the token is not a JWT or carries no numeric `exp`; such a token is then used until a 401.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    try:
        return datetime.fromtimestamp(exp, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


LoginFn = Callable[[], Awaitable[TokenSet]]
"""Logs in with the account's credentials; raises ChargeAmpsAuthError when they are refused."""
RefreshFn = Callable[[TokenSet], Awaitable[TokenSet]]
"""Trades the current token set for a new one without the password."""


REFRESH_FRACTION = 0.15
"""A token is renewed when less than this share of its lifetime is left (or `refresh_margin_s`, if smaller)."""


def renewal_margin(lifetime: timedelta, max_margin: timedelta) -> timedelta:
    """How long before its expiry a token of `lifetime` is renewed: 15 % of the lifetime, at most `max_margin`.

    A fixed margin longer than the lifetime (300 s against a 60 s token) would renew before every request, and
    every renewal of a user-app token is a login that costs one of the account's 10 token slots.
    """
    return max(timedelta(0), min(max_margin, lifetime * REFRESH_FRACTION))


class TokenManager:
    """Hands out a valid access token, logging in or refreshing only when it must.

    A token is reused until `renewal_margin` before its expiry: `refresh_margin_s` (300 s) for long-lived
    tokens, 15 % of the lifetime for short ones (9 s for a 60 s token). The lifetime is counted from when the
    token arrived to its `exp`.
    """

    def __init__(
        self,
        clock: Clock,
        login: LoginFn,
        refresh: RefreshFn | None = None,
        *,
        refresh_margin_s: float = 300.0,
    ) -> None:
        self._clock = clock
        self._login = login
        self._refresh = refresh
        self._margin = timedelta(seconds=refresh_margin_s)
        self._tokens: TokenSet | None = None
        self._renew_at: datetime | None = None
        self._stale = False
        self._lock = asyncio.Lock()
        self.login_count = 0
        """Successful logins so far: each one minted a token on the account."""
        self.refresh_count = 0
        """Successful refreshes so far."""

    def _usable(self) -> TokenSet | None:
        tokens = self._tokens
        if tokens is None or self._stale:
            return None
        if self._renew_at is not None and self._clock.now() >= self._renew_at:
            return None
        return tokens

    async def token(self) -> str:
        """A valid access token; the first caller that finds none renews it, the others wait for that."""
        tokens = self._usable()
        if tokens is not None:
            return tokens.access_token
        async with self._lock:
            tokens = self._usable()
            if tokens is None:
                tokens = await self._renew()
                self._tokens = tokens
                self._renew_at = (
                    None
                    if tokens.expires_at is None
                    else tokens.expires_at - renewal_margin(tokens.expires_at - self._clock.now(), self._margin)
                )
                self._stale = False
            return tokens.access_token

    async def _renew(self) -> TokenSet:
        old = self._tokens
        if self._refresh is not None and old is not None and old.refresh_token is not None:
            refresh_expiry = token_expiry(old.refresh_token)
            if refresh_expiry is None or self._clock.now() < refresh_expiry:
                try:
                    tokens = await self._refresh(old)
                except (ChargeAmpsAuthError, ChargeAmpsRequestError) as exc:
                    # A refused refresh token is not a refused account: the password may still work.
                    _LOGGER.info("Charge Amps token refresh refused (%s); logging in again", exc.status)
                else:
                    self.refresh_count += 1
                    _LOGGER.debug("Charge Amps token refreshed, valid until %s", tokens.expires_at)
                    return tokens
        tokens = await self._login()
        self.login_count += 1
        _LOGGER.info("Logged in to Charge Amps, token valid until %s", tokens.expires_at)
        return tokens

    def invalidate(self, access_token: str) -> None:
        """Mark `access_token` as refused so the next `token()` renews it; a no-op if it was already replaced."""
        if self._tokens is not None and self._tokens.access_token == access_token:
            self._stale = True

    def secrets(self) -> tuple[str, ...]:
        """The tokens currently held, for scrubbing text that came back from the cloud."""
        if self._tokens is None:
            return ()
        return tuple(t for t in (self._tokens.access_token, self._tokens.refresh_token) if t)


async def with_reauth(tokens: TokenManager, send: Callable[[str], Awaitable[T]]) -> T:
    """Call `send(token)`; on a 401 renew the token once and call again; a second 401 is final."""
    token = await tokens.token()
    try:
        return await send(token)
    except ChargeAmpsAuthError as exc:
        if exc.status != 401:
            raise
        _LOGGER.info("Charge Amps refused the token (401); renewing it once")
        tokens.invalidate(token)
    token = await tokens.token()
    try:
        return await send(token)
    except ChargeAmpsAuthError as exc:
        if exc.status != 401:
            raise
        raise ChargeAmpsAuthError(f"{exc.message}, again after a fresh token; not retrying", status=exc.status) from exc
